"""shrinknas: find small, fast neural networks by shrinking large ones.

Three methods (``autoshrink``, ``dsonas``, ``compress``) behind one API; see ``shrinknas.api`` for an example.
"""

import sys
import types

from .api import build, export, load_run, profile, search, settings, train
from .genome import load_genome
from .methods.base import method_names as methods

__version__ = "0.2.0"

__all__ = ["__version__", "build", "export", "load_genome", "load_run", "methods", "profile", "search", "settings",
           "train"]


class _PublicAPI(types.ModuleType):
    """The API's ``train`` and ``export`` share their names with the subpackage ``shrinknas.train`` and the module
    ``shrinknas.export``; importing those would rebind the package attributes to the modules, so the functions keep
    their names here (the modules stay importable as ``shrinknas.train.final``, ``from shrinknas import export``
    excepted)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in __all__ and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _PublicAPI

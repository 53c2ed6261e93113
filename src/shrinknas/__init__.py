"""shrinknas: find small, fast neural networks by shrinking large ones."""

__version__ = "0.1.0"

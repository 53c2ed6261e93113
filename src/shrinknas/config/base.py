"""Strict settings models and what every method shares about them: the identity of a run, YAML in and out.

Every model is frozen and forbids unknown keys, so a typo in a YAML file is an error, not a silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import BadInputError


class StrictModel(BaseModel):
    """Frozen, and unknown keys are errors: a typo in a settings file is reported, never ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_NEUTRAL = "identity_neutral"
INHERIT_ONLY = "inherit_only"


def added_setting(default: Any, *, inherit_only: bool = False, **kwargs: Any) -> Any:
    """A field added after runs were stored. Its default must do what the code did before the field existed;
    at that value ``identity`` leaves it out, so stored runs keep their trial keys and stay resumable."""
    extra = {_NEUTRAL: default, **({INHERIT_ONLY: True} if inherit_only else {})}
    return Field(default, json_schema_extra=extra, **kwargs)


def inherit_only(default: Any, **kwargs: Any) -> Any:
    """A training setting only the inherit protocol reads: ``from_scratch`` resets it, so a cell trained from
    scratch is keyed (and trained) the same whichever protocol's settings asked for it."""
    return Field(default, json_schema_extra={INHERIT_ONLY: True}, **kwargs)


def identity(model: BaseModel) -> dict[str, Any]:
    """The settings that decide an outcome, as JSON: trial keys and a run's stored identity are made of this."""
    data = model.model_dump(mode="json")
    _drop_neutral(model, data)
    return data


def _drop_neutral(model: BaseModel, data: dict[str, Any]) -> None:
    for name, info in type(model).model_fields.items():
        value, extra = getattr(model, name), info.json_schema_extra
        if isinstance(extra, dict) and _NEUTRAL in extra and value == extra[_NEUTRAL]:
            del data[name]
        elif isinstance(value, BaseModel):
            _drop_neutral(value, data[name])


def validated(model: type[StrictModel], data: Any, source: str) -> Any:
    """Build a settings model, turning pydantic's report into one readable line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BadInputError(f"{source}: {where}: {first['msg']}") from None


def load_yaml(path: Path) -> Any:
    """Read a YAML file safely (no object construction), or fail with one line."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not a UTF-8 text file; give a YAML file of settings") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise BadInputError(f"{path} is not valid YAML{at}") from None


def dump_yaml(model: BaseModel) -> str:
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False)

"""Numbers as people read them, one way everywhere (the CLI's tables, a method's status lines, the report)."""

from __future__ import annotations

import datetime


def fmt_float(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_macs(macs: int | None) -> str:
    return "-" if macs is None else f"{macs / 1e6:.2f} M"


def fmt_params(params: int | None) -> str:
    return "-" if params is None else f"{params / 1e6:.3f} M"


def fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def fmt_when(timestamp: float | None, short: bool = False) -> str:
    """``short``: the time of day for today, the date otherwise."""
    if timestamp is None:
        return "-"
    when = datetime.datetime.fromtimestamp(timestamp)
    if not short:
        return when.strftime("%Y-%m-%d %H:%M")
    return when.strftime("%H:%M" if when.date() == datetime.date.today() else "%Y-%m-%d")

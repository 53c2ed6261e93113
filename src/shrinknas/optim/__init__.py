"""Optimizers torch lacks."""

from .apg_nag import APGNAG

__all__ = ["APGNAG"]

"""Optimizers torch lacks."""

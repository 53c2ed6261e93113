"""Errors a user can cause. The CLI prints them on one line and exits 2; bugs stay ordinary exceptions."""


class ShrinkNASError(Exception):
    """Base of every error whose fix is in the user's hands (a flag, a file, a dataset)."""


class BadInputError(ShrinkNASError):
    """A flag, cell file, config or store that cannot be used as given."""


class DatasetMissingError(ShrinkNASError):
    """A dataset that is not where it should be, or cannot be read."""


class IncompatibleRunError(ShrinkNASError):
    """A run directory that holds a different search than the one asked for."""


class TooLargeError(BadInputError):
    """An architecture whose parameters or activations would not fit in this machine's memory."""

"""Errors a user can act on. The CLI prints them as one line and exits with status 2."""


class GtnbenchError(Exception):
    """Base class: the message names the file, field or value at fault and what to do."""


class DataError(GtnbenchError):
    """A data set is missing, corrupted or in an unknown layout."""


class SuiteError(GtnbenchError):
    """A suite file does not parse or does not follow the schema."""


class StoreError(GtnbenchError):
    """A run directory cannot be created, locked, read or appended to."""


class TrialFailed(GtnbenchError):
    """A trial ended without a result (divergence, collapse); recorded with its reason."""

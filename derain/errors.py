"""Exceptions with one-line messages that name the offending key, file or value."""


class DerainError(ValueError):
    """Base class: bad input detected before work starts. CLIs print its message as one line."""


class ConfigError(DerainError):
    """Unknown config key, wrong type or out-of-range value; the message names the key.

    ``field`` optionally names the offending field of a spec object (e.g. 'density' of a rain range), so a
    caller that built the object from config keys can name its own key instead.
    """

    def __init__(self, message: str, field: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.field = field
        self.detail = detail or message


class DataError(DerainError):
    """A background source or folder that cannot provide the requested data."""

"""Exceptions with one-line messages that name the offending key, file or value, and ``redact`` for any
message that may quote a URI with credentials."""

import re

# Control characters and the Unicode line separators str.splitlines() breaks on.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with each control character or line separator escaped as Python writes it (a newline as
    ``\\n``), so a message quoting a user's value stays one line and shows what the value really held."""
    return UNPRINTABLE.sub(lambda m: repr(m[0])[1:-1], text)


class DerainError(ValueError):
    """Base class: bad input detected before work starts. CLIs print its message as one line: a value a user
    typed may hold a newline, so the message is escaped here, once, for every raiser."""

    def __init__(self, message: str, *args: object):
        super().__init__(printable(message), *args)


class ConfigError(DerainError):
    """Unknown config key, wrong type or out-of-range value; the message names the key.

    ``field`` optionally names the offending field of a spec object (e.g. 'density' of a rain range), so a
    caller that built the object from config keys can name its own key instead.
    """

    def __init__(self, message: str, field: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.field = field
        self.detail = printable(detail or message)


class DataError(DerainError):
    """A background source or folder that cannot provide the requested data."""


CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/:@\s]*):(?P<secret>[^/@\s]*)@", re.I)


def redact(text: str) -> str:
    """``text`` with every ``scheme://user:password@`` shown as ``scheme://user:***@``."""
    return CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def without_credentials(uri: str) -> str:
    """``uri`` with any ``user:password@`` removed: a link to open, where a browser asks for them itself."""
    return CREDENTIALS.sub(lambda m: m["scheme"], uri)


def one_line(err: BaseException) -> str:
    """An exception as one line for a log or an error: its first line (or its type), credentials hidden."""
    text = str(err).strip()
    return redact(text.splitlines()[0] if text else type(err).__name__)

"""Errors the user can fix. The CLI prints them without a traceback and exits with status 2."""

from __future__ import annotations

from collections.abc import Sequence


class UserError(Exception):
    """Bad input: a config, a data file or a plugin setting. ``str()`` is the full message."""

    exit_code = 2


class ConfigError(UserError):
    """A config problem, located by file, key path and (where known) line."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.detail = message
        where = file or "<config>"
        if line is not None:
            where += f":{line}"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")


class ConfigErrors(ConfigError):
    """Every problem found in one pass over a config (and the data it names), so that the user
    can fix them all before trying again. ``errors`` holds each one; ``str()`` puts one a line.
    """

    def __init__(self, errors: Sequence[UserError], *, file: str | None = None) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = list(errors)
        text = "\n".join(str(e) for e in self.errors)
        UserError.__init__(self, text)
        self.file = file
        self.key = None
        self.line = None
        self.detail = text


def combine(errors: Sequence[UserError], *, file: str | None = None) -> UserError:
    """The one error itself, or all of them as :class:`ConfigErrors`."""
    return errors[0] if len(errors) == 1 else ConfigErrors(errors, file=file)


class DataError(UserError):
    """A data file is malformed; the message names the file and, where known, the line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.detail = message
        where = ""
        if file:
            where = file + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)


class ParamError(ValueError):
    """Raised by component factories for a bad parameter; ``param`` names it so that the
    config layer can point at ``<table>.params.<param>``."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(message)

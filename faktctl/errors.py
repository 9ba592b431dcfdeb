"""One family of user-facing errors. Each knows its exit code; the CLI boundary prints one line."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # audit threshold crossed, render drift
    USAGE = 2  # bad flags, invalid or missing spec
    ENGINE = 3  # Docker engine unreachable
    FAILED = 4  # an operation ran and failed
    INTERRUPTED = 130


def shown(value: object) -> str:
    """`value` as text fit for a one-line message: control and other unprintable characters
    (a newline or carriage return in a YAML key, say) written as escapes."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


class FaktctlError(Exception):
    """An error meant for a person: a message, an optional hint, and an exit code."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(FaktctlError):
    exit_code = ExitCode.USAGE


class SpecError(UsageError):
    """The spec file is missing or invalid. `problems` holds every located message."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "invalid spec")
        self.problems = problems

    def one_line(self) -> str:
        return "\n".join(self.problems)


class EngineUnavailable(FaktctlError):
    exit_code = ExitCode.ENGINE


class OperationFailed(FaktctlError):
    exit_code = ExitCode.FAILED


class Interrupted(BaseException):
    """Ctrl-C: the command ends with exit 130 wherever it was.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on the way out (an
    audit check turned into a `skip`, an engine call turned into an engine error) can swallow
    it; cleanup written as `finally` or `except BaseException` still runs.
    """

    exit_code = ExitCode.INTERRUPTED

    def one_line(self) -> str:
        return "interrupted"

"""The one error hierarchy: user-input problems, retryable vs fatal remote errors, guardrail stops."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One user-actionable problem in an input file: where, what was found, what was expected."""

    file: str
    message: str
    line: int | None = None
    path: str | None = None  # key path inside the file, e.g. "where.all[2].value"
    value: object = None
    expected: str | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        parts = [where]
        if self.path:
            parts.append(self.path)
        text = ": ".join(parts) + f": {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text


class SegsyncError(Exception):
    """Base of every error segsync raises on purpose."""


class InputError(SegsyncError):
    """Bad user input (config, segment files): carries every problem found, never raised for one at a time."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RemoteError(SegsyncError):
    """An error returned by (or on the way to) a vendor API."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class RetryableError(RemoteError):
    """Worth trying again after a wait (5xx, timeouts, lock contention)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """HTTP 429 or a vendor rate-limit code; honour retry_after when given."""


class SessionExpired(RetryableError):
    """The credential must be refreshed once, then the call retried."""


class FatalError(RemoteError):
    """Stop this destination/source for this run (bad credentials, unknown object, misconfiguration)."""


class QuotaExhausted(FatalError):
    """A daily allowance is spent: stop cleanly instead of spinning until tomorrow."""


class GuardrailBlocked(SegsyncError):
    """A plan would remove or touch more than the configured limits; needs --force or an approval."""

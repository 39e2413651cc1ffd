"""The one retry and rate-limit policy: status -> action as data, bounded retries, shared limiters."""
from __future__ import annotations

import enum
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from segsync.errors import (
    FatalError,
    QuotaExhausted,
    RateLimited,
    RemoteError,
    RetryableError,
    SessionExpired,
)

T = TypeVar("T")


class Action(enum.Enum):
    RETRY = "retry"  # transient: back off and try again
    RATE_LIMIT = "rate_limit"  # wait Retry-After (or back off) and try again
    REAUTH = "reauth"  # refresh the session once, then retry
    REJECT_RECORD = "reject_record"  # this record is bad; others in the batch may be fine
    FAIL_RUN = "fail_run"  # stop this destination/source now
    QUOTA_STOP = "quota_stop"  # daily allowance spent: stop cleanly


@dataclass(frozen=True)
class Rule:
    """Maps an HTTP status and/or vendor error code to an action. None matches anything."""

    action: Action
    status: int | None = None
    code: str | None = None


# Generic HTTP rules; vendors prepend their own code-specific rules (first match wins).
HTTP_RULES: tuple[Rule, ...] = (
    Rule(Action.RATE_LIMIT, status=429),
    Rule(Action.REAUTH, status=401),
    Rule(Action.RETRY, status=408),
    Rule(Action.RETRY, status=500),
    Rule(Action.RETRY, status=502),
    Rule(Action.RETRY, status=503),
    Rule(Action.RETRY, status=504),
    Rule(Action.FAIL_RUN, status=403),
    Rule(Action.FAIL_RUN, status=404),
    Rule(Action.REJECT_RECORD, status=400),
    Rule(Action.REJECT_RECORD, status=422),
)


def classify(status: int | None, code: str | None, rules: Sequence[Rule] = HTTP_RULES) -> Action:
    """First rule whose status and code both match; unknown statuses fail the run."""
    for rule in rules:
        if (rule.status is None or rule.status == status) and (rule.code is None or rule.code == code):
            return rule.action
    return Action.FAIL_RUN


def error_for(action: Action, message: str, *, status: int | None = None, code: str | None = None,
              retry_after: float | None = None) -> RemoteError:
    """Turn a classified response into the matching exception of the one hierarchy."""
    if action is Action.RATE_LIMIT:
        return RateLimited(message, status=status, code=code, retry_after=retry_after)
    if action is Action.RETRY:
        return RetryableError(message, status=status, code=code, retry_after=retry_after)
    if action is Action.REAUTH:
        return SessionExpired(message, status=status, code=code)
    if action is Action.QUOTA_STOP:
        return QuotaExhausted(message, status=status, code=code)
    return FatalError(message, status=status, code=code)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 30.0
    jitter: float = 0.5  # fraction of the delay randomised

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        return backoff * (1 - self.jitter + self.jitter * random.random())


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy = RetryPolicy(),
    reauth: Callable[[], None] | None = None,
    limiter: "RateLimiter | None" = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, RemoteError], None] | None = None,
) -> T:
    """Run fn, retrying RetryableError with backoff; re-authenticate at most once on SessionExpired.

    Fatal errors (including QuotaExhausted) propagate at once.
    """
    reauthed = False
    attempt = 0
    while True:
        attempt += 1
        if limiter is not None:
            limiter.acquire()
        try:
            return fn()
        except SessionExpired as exc:
            if reauth is None or reauthed:
                raise FatalError(f"session rejected after re-authentication: {exc}", status=exc.status,
                                 code=exc.code) from exc
            reauthed = True
            reauth()
            if on_retry:
                on_retry(attempt, exc)
        except RetryableError as exc:
            if attempt >= policy.max_attempts:
                raise
            if on_retry:
                on_retry(attempt, exc)
            if isinstance(exc, RateLimited) and limiter is not None:
                limiter.penalise(policy.delay(attempt, exc.retry_after))
            sleep(policy.delay(attempt, exc.retry_after))


class RateLimiter:
    """A thread-safe sliding-window limiter: at most `calls` acquisitions per `per_seconds`."""

    def __init__(self, calls: int, per_seconds: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if calls <= 0 or per_seconds <= 0:
            raise ValueError("a rate limit needs positive calls and period")
        self.calls = calls
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._stamps: list[float] = []
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                horizon = now - self.per_seconds
                self._stamps = [s for s in self._stamps if s > horizon]
                wait = self._blocked_until - now
                if wait <= 0 and len(self._stamps) < self.calls:
                    self._stamps.append(now)
                    return
                if wait <= 0:
                    wait = self._stamps[0] - horizon
            self._sleep(max(wait, 0.001))

    def penalise(self, seconds: float) -> None:
        """After a 429, hold every caller sharing this limiter for `seconds`."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(credential_key: str, calls: int, per_seconds: float) -> RateLimiter:
    """The limiter shared by every task using one credential (key: vendor + a hash of the credential)."""
    with _limiters_lock:
        limiter = _limiters.get(credential_key)
        if limiter is None:
            limiter = _limiters[credential_key] = RateLimiter(calls, per_seconds)
        return limiter


def reset_limiters() -> None:
    """Forget every shared limiter (a benchmark or test starting over with new rates)."""
    with _limiters_lock:
        _limiters.clear()

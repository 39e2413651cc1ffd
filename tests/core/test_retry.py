"""The shared retry/rate-limit policy: classification table, bounded retries, re-auth once, limiter."""
import pytest

from segsync.errors import FatalError, QuotaExhausted, RateLimited, RetryableError, SessionExpired
from segsync.retry import Action, RateLimiter, RetryPolicy, Rule, call_with_retry, classify, error_for


def test_classify_uses_first_matching_rule():
    rules = (Rule(Action.REJECT_RECORD, code="STRING_TOO_LONG"), Rule(Action.QUOTA_STOP, status=403,
             code="REQUEST_LIMIT_EXCEEDED"), Rule(Action.FAIL_RUN, status=403))
    assert classify(400, "STRING_TOO_LONG", rules) is Action.REJECT_RECORD
    assert classify(403, "REQUEST_LIMIT_EXCEEDED", rules) is Action.QUOTA_STOP
    assert classify(403, "OTHER", rules) is Action.FAIL_RUN
    assert classify(418, None, rules) is Action.FAIL_RUN
    assert classify(429, None) is Action.RATE_LIMIT
    assert classify(503, None) is Action.RETRY
    assert classify(401, None) is Action.REAUTH


def test_error_for_maps_actions_to_the_hierarchy():
    assert isinstance(error_for(Action.RATE_LIMIT, "x", retry_after=3), RateLimited)
    assert error_for(Action.RATE_LIMIT, "x", retry_after=3).retry_after == 3
    assert isinstance(error_for(Action.REAUTH, "x"), SessionExpired)
    assert isinstance(error_for(Action.QUOTA_STOP, "x"), QuotaExhausted)
    assert isinstance(error_for(Action.FAIL_RUN, "x"), FatalError)
    assert isinstance(error_for(Action.RETRY, "x"), RetryableError)


def test_retries_until_success_and_honours_retry_after():
    sleeps = []
    outcomes = [RateLimited("slow down", retry_after=2), RetryableError("503"), "done"]

    def call():
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    assert call_with_retry(call, policy=RetryPolicy(jitter=0, base_delay=0.5), sleep=sleeps.append) == "done"
    assert sleeps == [2, 1.0]  # Retry-After as given, then base * 2**(attempt-1) for attempt 2


def test_gives_up_after_max_attempts():
    calls = []

    def call():
        calls.append(1)
        raise RetryableError("boom")

    with pytest.raises(RetryableError):
        call_with_retry(call, policy=RetryPolicy(max_attempts=3, jitter=0), sleep=lambda s: None)
    assert len(calls) == 3


def test_reauthenticates_once_then_fails_fatally():
    reauths = []

    def call():
        raise SessionExpired("INVALID_SESSION_ID")

    with pytest.raises(FatalError):
        call_with_retry(call, reauth=lambda: reauths.append(1), sleep=lambda s: None)
    assert reauths == [1]


def test_fatal_errors_are_not_retried():
    calls = []

    def call():
        calls.append(1)
        raise QuotaExhausted("daily limit")

    with pytest.raises(QuotaExhausted):
        call_with_retry(call, sleep=lambda s: None)
    assert calls == [1]


def test_rate_limiter_window_and_penalty():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds

    limiter = RateLimiter(2, 10.0, clock=lambda: now[0], sleep=sleep)
    limiter.acquire()
    limiter.acquire()
    limiter.acquire()  # third call in the window waits for the first stamp to age out
    assert slept == [10.0]
    limiter.penalise(5)
    limiter.acquire()
    assert now[0] >= 15.0

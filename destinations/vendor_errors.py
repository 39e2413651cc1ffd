"""Turns a vendor's failed HTTP answer into the one error hierarchy via that vendor's Rule table."""
from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping, Sequence

from segsync.errors import QuotaExhausted, RemoteError
from segsync.redact import redact
from segsync.retry import Action, Rule, classify, error_for
from segsync.sync.protocol import BatchRejected

# A rate-limit wait longer than this is a spent allowance (daily cap), not a burst: stop cleanly.
QUOTA_WAIT_SECONDS = 15 * 60


def retry_after_seconds(headers: Mapping | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not headers:
        return None
    value = None
    for name, raw in dict(headers).items():
        if str(name).lower() == "retry-after":
            value = str(raw).strip()
            break
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def json_body(body: object) -> dict:
    """The decoded JSON object of an error body ({} when it is empty or not a JSON object)."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, Mapping):
        return dict(body)
    if not isinstance(body, str) or not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def classify_error(vendor: str, status: int | None, code: str | None, message: str, *,
                   rules: Sequence[Rule], retry_after: float | None = None) -> RemoteError:
    """The exception for one failed call: batch-level record errors become BatchRejected (bisect them)."""
    action = classify(status, code, rules)
    text = redact(f"{vendor}: HTTP {status}{f' {code}' if code else ''}: {message}")
    if action is Action.REJECT_RECORD:
        return BatchRejected(text, status=status, code=code)
    if action is Action.RATE_LIMIT and retry_after is not None and retry_after > QUOTA_WAIT_SECONDS:
        return QuotaExhausted(f"{text} (allowance spent; retry after {int(retry_after)}s)", status=status,
                              code=code)
    return error_for(action, text, status=status, code=code, retry_after=retry_after)

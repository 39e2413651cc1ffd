"""HubSpot rate limits: a rolling 10-second burst window, a daily allowance, the search API's per-second limit."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

# Private app on a Professional/Enterprise account: 190 requests per 10 s, 650,000 (Professional) a day
# (developers.hubspot.com/changelog/increasing-our-api-limits; .../docs/guides/apps/api-usage/usage-details).
DEFAULT_PER_10S = 190
DEFAULT_DAILY = 650_000
# CRM search: "5 requests per second per account" (developers.hubspot.com/docs/guides/api/crm/search#limitations).
DEFAULT_SEARCH_PER_SECOND = 5
WINDOW_MS = 10_000


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    policy: str | None  # TEN_SECONDLY_ROLLING, DAILY or SECONDLY when refused
    headers: dict[str, str]


class RateLimits:
    """Counts accepted calls; refused calls are not counted (HubSpot answers them 429 without using quota)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._burst: deque[float] = deque()
        self._search: deque[float] = deque()
        self._day = time.strftime("%Y-%m-%d", time.gmtime())
        self._daily = 0

    def reset(self) -> None:
        with self._lock:
            self._burst.clear()
            self._search.clear()
            self._daily = 0

    def admit(self, *, per_10s: int, daily: int, search_per_second: int | None,
              window_ms: int = WINDOW_MS) -> Verdict:
        """One call: allowed or refused (with the policy hit) and the X-HubSpot-RateLimit-* headers to send."""
        now = time.monotonic()
        with self._lock:
            today = time.strftime("%Y-%m-%d", time.gmtime())
            if today != self._day:
                self._day, self._daily = today, 0
            while self._burst and now - self._burst[0] >= window_ms / 1000:
                self._burst.popleft()
            while self._search and now - self._search[0] >= 1.0:
                self._search.popleft()
            policy = None
            if self._daily >= daily:
                policy = "DAILY"
            elif len(self._burst) >= per_10s:
                policy = "TEN_SECONDLY_ROLLING"
            elif search_per_second is not None and len(self._search) >= search_per_second:
                policy = "SECONDLY"
            if policy is None:
                self._burst.append(now)
                self._daily += 1
                if search_per_second is not None:
                    self._search.append(now)
            headers = {
                "X-HubSpot-RateLimit-Daily": str(daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(daily - self._daily, 0)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(window_ms),
                "X-HubSpot-RateLimit-Max": str(per_10s),
                "X-HubSpot-RateLimit-Remaining": str(max(per_10s - len(self._burst), 0)),
            }
            return Verdict(policy is None, policy, headers)

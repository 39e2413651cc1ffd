"""Klaviyo's per-account fixed-window rate limits: burst (1 s), steady (1 min) and, for some endpoints, daily."""
from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timezone

# Per endpoint, as its API reference page documents (x-klaviyo-ratelimit in the OpenAPI files).
DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "GET /api/lists": {"burst": 75, "steady": 750},
    "POST /api/lists": {"burst": 10, "steady": 150, "daily": 150},
    "GET /api/lists/{list_id}": {"burst": 75, "steady": 750},
    "GET /api/lists/{list_id}/relationships/profiles": {"burst": 75, "steady": 750},
    "POST /api/lists/{list_id}/relationships/profiles": {"burst": 10, "steady": 150},
    "DELETE /api/lists/{list_id}/relationships/profiles": {"burst": 10, "steady": 150},
    "GET /api/profiles": {"burst": 75, "steady": 750},
    "POST /api/profiles": {"burst": 75, "steady": 750},
    "GET /api/profiles/{profile_id}": {"burst": 75, "steady": 750},
    "POST /api/profile-bulk-import-jobs": {"burst": 10, "steady": 150},
    "GET /api/profile-bulk-import-jobs/{job_id}": {"burst": 10, "steady": 150},
    "GET /api/profile-bulk-import-jobs/{job_id}/import-errors": {"burst": 10, "steady": 150},
    "GET /api/profile-bulk-import-jobs/{job_id}/relationships/profiles": {"burst": 10, "steady": 150},
}
WINDOWS = {"burst": 1.0, "steady": 60.0}


class Throttled(Exception):
    def __init__(self, window: str, retry_after: int):
        super().__init__(f"{window} limit reached")
        self.window = window
        self.retry_after = retry_after


class FixedWindowLimiter:
    """Counts accepted requests per endpoint and window; refused requests do not count."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def hit(self, endpoint: str, limits: dict[str, int], now: float | None = None) -> dict[str, int]:
        """Count one request or raise Throttled; return the steady window's limit/remaining/reset."""
        now = time.time() if now is None else now
        with self._lock:
            starts = {}
            for window, limit in limits.items():
                start = _window_start(window, now)
                starts[window] = start
                began, count = self._counts.get((endpoint, window), (start, 0))
                if began != start:
                    count = 0
                if count >= limit:
                    raise Throttled(window, max(1, math.ceil(_window_end(window, start) - now)))
            for window in limits:
                began, count = self._counts.get((endpoint, window), (starts[window], 0))
                self._counts[(endpoint, window)] = (starts[window], (count if began == starts[window] else 0) + 1)
            steady = limits.get("steady")
            if steady is None:
                return {}
            used = self._counts[(endpoint, "steady")][1]
            return {"limit": steady, "remaining": steady - used,
                    "reset": max(0, math.ceil(_window_end("steady", starts["steady"]) - now))}


def _window_start(window: str, now: float) -> float:
    if window == "daily":
        day = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        return day.timestamp()
    size = WINDOWS[window]
    return math.floor(now / size) * size


def _window_end(window: str, start: float) -> float:
    return start + (86400.0 if window == "daily" else WINDOWS[window])

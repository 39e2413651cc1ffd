"""UTC time helpers: parse `--as-of` values and normalise datetimes to timezone-aware UTC."""
from __future__ import annotations

from datetime import date, datetime, time, timezone


def to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_as_of(text: str) -> datetime:
    """'2026-11-30' -> end of that day UTC; a full ISO timestamp -> that instant in UTC."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc)
        return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as exc:
        raise ValueError(f"--as-of {text!r} is not a date; expected YYYY-MM-DD or an ISO timestamp") from exc

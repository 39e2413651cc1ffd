"""Salesforce record ids: 15-character base-62 ids with the 3-character case-checksum suffix (18 characters)."""
from __future__ import annotations

from segsync.sfid import BASE62, checksum, normalize

POD = "8c0"  # the instance/reserved characters after the key prefix (seed data uses segsync.sfid's "5g0")


def checksum_suffix(id15: str) -> str:
    """The three characters that make a 15-character id case-insensitively unique."""
    return checksum(id15)


def to_18(record_id: str) -> str:
    """Normalise a 15- or 18-character id to its 18-character form (ValueError when malformed)."""
    return normalize(record_id)


def make_id(key_prefix: str, counter: int) -> str:
    """The 18-character id number `counter` of an object with this 3-character key prefix."""
    digits = ""
    value = counter
    for _ in range(9):
        value, rem = divmod(value, 62)
        digits = BASE62[rem] + digits
    if value:
        raise ValueError(f"id counter {counter} does not fit in 9 base-62 digits")
    return to_18(key_prefix + POD + digits)


def normalise_id(record_id: str, key_prefix: str | None = None) -> str | None:
    """The 18-character id, or None when malformed or (given key_prefix) of another object."""
    try:
        full = to_18(record_id)
    except (ValueError, TypeError):
        return None
    if key_prefix is not None and not full.startswith(key_prefix):
        return None
    return full

"""Salesforce record ids: 15-character base-62 ids with the 3-character case-checksum suffix (18 characters)."""
from __future__ import annotations

import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_SHAPE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Za-z0-5]{3})?$")
POD = "8c0"  # the instance/reserved characters after the key prefix


def checksum_suffix(id15: str) -> str:
    """The three characters that make a 15-character id case-insensitively unique."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5: chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def to_18(record_id: str) -> str:
    """Normalise a 15- or 18-character id to its 18-character form (ValueError when malformed)."""
    if not _ID_SHAPE.match(record_id or ""):
        raise ValueError(f"malformed id {record_id!r}: expected 15 or 18 alphanumeric characters")
    id15 = record_id[:15]
    full = id15 + checksum_suffix(id15)
    if len(record_id) == 18 and record_id[15:].upper() != full[15:]:
        raise ValueError(f"malformed id {record_id!r}: the case-checksum suffix should be {full[15:]}")
    return full


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

"""Salesforce record ids: the 18-character case-safe form, normalisation, and deterministic test ids."""
from __future__ import annotations

import re

CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Ids are <key prefix (3)><pod "5g0" (3)><9 base-62 digits of a scrambled counter>.
POD = "5g0"
BODY_DIGITS = 9
BODY_SPACE = 62 ** BODY_DIGITS
SCRAMBLE = 1_000_000_007  # coprime with 62, so n -> n * SCRAMBLE mod 62**9 is a bijection
_ID15 = re.compile(r"^[0-9A-Za-z]{15}$")
_ID18 = re.compile(r"^[0-9A-Za-z]{15}[A-Za-z0-5]{3}$")  # the suffix is case-insensitive
_PREFIX = re.compile(r"^[0-9A-Za-z]{3}$")


def checksum(id15: str) -> str:
    """The three suffix characters that encode which of the 15 characters are upper case."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += CHECKSUM_ALPHABET[bits]
    return suffix


def to_18(id15: str) -> str:
    """The 18-character case-insensitive-safe form of a 15-character Salesforce id."""
    if not isinstance(id15, str) or not _ID15.match(id15):
        raise ValueError(f"Salesforce id {id15!r}: expected exactly 15 letters/digits")
    return id15 + checksum(id15)


def normalize(record_id: str) -> str:
    """A 15- or 18-character id in its 18-character form (the suffix is recomputed from the 15 chars)."""
    if isinstance(record_id, str):
        value = record_id.strip()
        if _ID15.match(value):
            return to_18(value)
        if _ID18.match(value):
            expected = to_18(value[:15])
            if value.upper() != expected.upper():
                raise ValueError(f"Salesforce id {record_id!r}: checksum suffix {value[15:]!r} does not match "
                                 f"the 15-character body (expected {expected[15:]!r})")
            return expected
    raise ValueError(f"Salesforce id {record_id!r}: expected a 15- or 18-character id of letters and digits")


def make_id(key_prefix: str, n: int) -> str:
    """A deterministic, valid 18-character id for counter n (0 <= n < 62**9) under a key prefix like '001'."""
    if not _PREFIX.match(key_prefix):
        raise ValueError(f"Salesforce key prefix {key_prefix!r}: expected 3 letters/digits such as '001'")
    if not 0 <= n < BODY_SPACE:
        raise ValueError(f"Salesforce id counter {n!r}: expected 0 <= n < {BODY_SPACE}")
    scrambled = (n * SCRAMBLE) % BODY_SPACE
    digits = []
    for _ in range(BODY_DIGITS):
        scrambled, digit = divmod(scrambled, 62)
        digits.append(BASE62[digit])
    return to_18(key_prefix + POD + "".join(reversed(digits)))


def duckdb_macros() -> str:
    """SQL defining `sfid_make(prefix, n)` in DuckDB: the vectorised twin of make_id (for bulk seeding)."""
    scrambled = f"((n::BIGINT * {SCRAMBLE}) % {BODY_SPACE})"
    digits = " || ".join(f"substr('{BASE62}', (({scrambled} // {62 ** k}) % 62)::INTEGER + 1, 1)"
                         for k in reversed(range(BODY_DIGITS)))
    chunks = []
    for chunk in range(3):
        bits = " + ".join(f"CASE WHEN substr(s, {chunk * 5 + j + 1}, 1) BETWEEN 'A' AND 'Z' THEN {1 << j} ELSE 0 END"
                          for j in range(5))
        chunks.append(f"substr('{CHECKSUM_ALPHABET}', ({bits}) + 1, 1)")
    return f"""
CREATE OR REPLACE MACRO sfid_body(prefix, n) AS prefix || '{POD}' || {digits};
CREATE OR REPLACE MACRO sfid_suffix(s) AS {" || ".join(chunks)};
CREATE OR REPLACE MACRO sfid_make(prefix, n) AS sfid_body(prefix, n) || sfid_suffix(sfid_body(prefix, n));
"""

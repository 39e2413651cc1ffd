"""Deterministic splits: md5 of salt:account_id → one of 10,000 slots, identical on every machine and in SQL."""
from __future__ import annotations

import hashlib

from sqlglot import exp

from segsync.segments.model import Split

SLOTS = 10_000


def stable_slot(salt: str, account_id: str) -> int:
    """Slot 0..9999 from the first 32 bits of md5("salt:account_id") (never Python's per-process hash())."""
    digest = hashlib.md5(f"{salt}:{account_id}".encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % SLOTS


def bucket_for(split: Split, account_id: str):
    """The SplitBucket an account falls in."""
    slot = stable_slot(split.salt, account_id)
    for bucket, low, high in split.ranges():
        if low <= slot < high:
            return bucket
    raise ValueError(f"slot {slot} outside the split ranges of salt {split.salt!r}")


def slot_expression(salt: str, account_id: exp.Expression) -> exp.Expression:
    """The same slot in DuckDB: CAST('0x' || SUBSTR(MD5(salt || ':' || id), 1, 8) AS BIGINT) % 10000."""
    keyed = exp.DPipe(this=exp.Literal.string(f"{salt}:"), expression=account_id, safe=True)
    hex_prefix = exp.Substring(this=exp.MD5(this=keyed), start=exp.Literal.number(1), length=exp.Literal.number(8))
    as_int = exp.cast(exp.DPipe(this=exp.Literal.string("0x"), expression=hex_prefix, safe=True),
                      exp.DataType.Type.BIGINT)
    return exp.Mod(this=exp.paren(as_int), expression=exp.Literal.number(SLOTS))


def split_columns(split: Split | None, account_id: exp.Expression) -> tuple[exp.Expression, exp.Expression]:
    """(split name, is_holdout) expressions for one segment's members; NULL / FALSE when it has no split."""
    if split is None:
        return exp.cast(exp.Null(), exp.DataType.Type.VARCHAR), exp.false()
    slot = slot_expression(split.salt, account_id)
    name_case = exp.Case()
    holdout_case = exp.Case()
    for bucket, _low, high in split.ranges():
        below = exp.LT(this=slot.copy(), expression=exp.Literal.number(high))
        name_case = name_case.when(below, exp.Literal.string(bucket.name))
        holdout_case = holdout_case.when(below.copy(), exp.Boolean(this=bucket.holdout))
    return name_case, holdout_case

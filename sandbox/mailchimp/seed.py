"""Seeds the Mailchimp audience from dataset contacts: statuses chosen deterministically from the email's MD5."""
from __future__ import annotations

import duckdb
import pyarrow as pa

from sandbox.mailchimp.store import Audience, Member, now_iso

# Share of contacts per status, in basis points of the hash bucket (0..9999); the rest are not on the list.
STATUS_BUCKETS = (("subscribed", 6000), ("unsubscribed", 800), ("cleaned", 400), ("pending", 300))
FORGOTTEN_COUNT = 2

_ASSIGN_SQL = """
WITH distinct_contacts AS (
    SELECT lower(trim(email)) AS email_lower, arg_min(trim(email), contact_id) AS email,
           arg_min(first_name, contact_id) AS first_name, arg_min(last_name, contact_id) AS last_name
    FROM contacts
    WHERE email IS NOT NULL AND trim(email) <> ''
    GROUP BY 1
), hashed AS (
    SELECT *, md5(email_lower) AS subscriber_hash,
           CAST(('0x' || substr(md5(email_lower), 1, 8))::UBIGINT % 10000 AS INTEGER) AS bucket
    FROM distinct_contacts
), assigned AS (
    SELECT *, CASE {cases} ELSE 'absent' END AS status FROM hashed
)
SELECT subscriber_hash, email, coalesce(first_name, '') AS first_name, coalesce(last_name, '') AS last_name,
       CASE WHEN status = 'absent' AND row_number() OVER (PARTITION BY status ORDER BY subscriber_hash) <= {forgotten}
            THEN 'forgotten' ELSE status END AS status
FROM assigned
ORDER BY subscriber_hash
"""


def _cases() -> str:
    parts, upper = [], 0
    for status, share in STATUS_BUCKETS:
        upper += share
        parts.append(f"WHEN bucket < {upper} THEN '{status}'")
    return " ".join(parts)


def assign_statuses(contacts: pa.Table) -> pa.Table:
    """One row per distinct lowercased email: subscriber_hash, email, first/last name, status (or absent/forgotten)."""
    con = duckdb.connect()
    try:
        con.register("contacts", contacts.select(["contact_id", "email", "first_name", "last_name"]))
        return con.sql(_ASSIGN_SQL.format(cases=_cases(), forgotten=FORGOTTEN_COUNT)).to_arrow_table()
    finally:
        con.close()


def seed_audience(audience: Audience, contacts: pa.Table) -> dict[str, int]:
    """Fill the audience; return the count per status (absent ones included, for the seed report)."""
    columns = assign_statuses(contacts).to_pydict()
    stamp = now_iso()
    counts: dict[str, int] = {}
    for key, email, first, last, status in zip(columns["subscriber_hash"], columns["email"], columns["first_name"],
                                               columns["last_name"], columns["status"]):
        counts[status] = counts.get(status, 0) + 1
        if status == "absent":
            continue
        if status == "forgotten":
            audience.forgotten.add(key)
            continue
        audience.members[key] = Member(email_address=email, status=status,
                                       merge_fields={"FNAME": first, "LNAME": last},
                                       timestamp_signup=stamp, last_changed=stamp, source="Import")
    return counts

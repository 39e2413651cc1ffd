"""Helpers for the Mailchimp emulator contract tests: client, audience, members, problem documents."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pyarrow as pa
from mailchimp_marketing.api_client import ApiClientError

from sandbox.mailchimp.store import Member, now_iso, subscriber_hash
from segsync.clients.mailchimp import make_mailchimp


def client(sandbox):
    return make_mailchimp(sandbox.env())


def audience(sandbox):
    return sandbox["mailchimp"].default_audience()


def put_member(sandbox, email: str, status: str) -> None:
    """Place a member directly in the emulator's store (test setup, no API call)."""
    target = audience(sandbox)
    stamp = now_iso()
    with sandbox["mailchimp"].lock:
        target.members[subscriber_hash(email)] = Member(email_address=email, status=status, merge_fields={},
                                                        timestamp_signup=stamp, last_changed=stamp)


def problem(exc: ApiClientError) -> dict:
    """The problem-detail document of a failed call (served as application/problem+json)."""
    return exc.text if isinstance(exc.text, dict) else json.loads(exc.text)


def contacts_dataset(emails: list[str]) -> SimpleNamespace:
    """A stand-in for sandbox.datasets.Dataset with only the contacts table."""
    count = len(emails)
    return SimpleNamespace(contacts=pa.table({
        "contact_id": [f"C{i:07d}" for i in range(count)], "account_id": [f"A{i % 97:05d}" for i in range(count)],
        "email": emails, "first_name": [f"First{i}" for i in range(count)],
        "last_name": [f"Last{i}" for i in range(count)], "title": ["Ops"] * count,
        "salesforce_id": [None] * count, "hubspot_id": [None] * count}))

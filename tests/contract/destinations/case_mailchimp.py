"""The Mailchimp case: a tag per segment on each account's contact (all already on the audience, mixed statuses)."""
from __future__ import annotations

from sandbox.mailchimp.emulator import DEFAULT_AUDIENCE_NAME
from sandbox.mailchimp.store import Member, Segment, now_iso, subscriber_hash
from tests.contract.destinations.harness import ContractCase
from tests.contract.destinations.list_case_support import (
    SUITE_BATCH,
    dataset_and_warehouse,
    first_contacts,
    suite_min_calls,
)

SETTINGS = {"type": "mailchimp", "audience": DEFAULT_AUDIENCE_NAME, "batch_size": SUITE_BATCH}
_account_of: dict[str, str] = {}  # subscriber hash -> product account id


def emulator(sandbox):
    return sandbox["mailchimp"]


def seed(sandbox, con, spec) -> list[str]:
    dataset_and_warehouse(con, spec)
    rows = first_contacts(con).to_pylist()
    audience = emulator(sandbox).default_audience()
    stamp = now_iso()
    with emulator(sandbox).lock:
        for n, row in enumerate(rows):
            status = "unsubscribed" if n % 13 == 0 else "cleaned" if n % 17 == 0 else "subscribed"
            audience.members[subscriber_hash(row["email"])] = Member(
                email_address=row["email"], status=status, merge_fields={}, timestamp_signup=stamp, last_changed=stamp)
    _account_of.clear()
    _account_of.update({subscriber_hash(row["email"]): row["account_id"] for row in rows})
    emulator(sandbox).log.clear()
    return [row["account_id"] for row in rows]


def observed(sandbox, segment_names) -> dict[str, set[str]]:
    audience = emulator(sandbox).default_audience()
    found = {}
    for name in segment_names:
        tag = audience.segment_by_name(f"segsync: {name}")
        found[name] = set() if tag is None else {_account_of[key] for key in tag.members}
    return found


def write_calls(sandbox) -> int:
    """Static-segment member calls and batch subscribes (creating the tag once is setup, not per change)."""
    audience = emulator(sandbox).default_audience()
    return sum(1 for e in emulator(sandbox).log.entries() if e.method == "POST" and (
        e.path == f"/3.0/lists/{audience.id}" or e.path.startswith(f"/3.0/lists/{audience.id}/segments/")))


def reject_record(sandbox, con, account_id: str) -> None:
    """The account's contact address is malformed: Mailchimp refuses to add it, every run."""
    con.execute("UPDATE contacts SET email = 'no-domain@' || account_id WHERE account_id = ?", [account_id])


def transient_record(sandbox, account_id: str, times: int) -> None:
    """The contact is not on the audience yet and the batch subscribe creating it fails `times` times (503).

    Batch subscribes carry the addresses still to create, so one rule stands for every such record: its count is
    the most any of them asked for (several records failing once fail the one shared call once).
    """
    audience = emulator(sandbox).default_audience()
    key = next(k for k, a in _account_of.items() if a == account_id)
    with emulator(sandbox).lock:
        audience.members.pop(key)
    path = f"/3.0/lists/{audience.id}$"
    rule = next((r for r in emulator(sandbox).faults.rules if r.path == path), None)
    if rule is None:
        emulator(sandbox).faults.add({"method": "POST", "path": path, "status": 503, "times": times})
    else:
        rule.times = max(rule.times or 0, times)


def call_fault(sandbox, status: int, times: int | None) -> None:
    emulator(sandbox).faults.add({"method": "POST", "path": r"/segments/\d+$", "status": status, "times": times})


def foreign_member(sandbox, con, segment: str, account_id: str) -> None:
    """A person created the tag (segsync finds it by name) and tagged a contact by hand."""
    audience = emulator(sandbox).default_audience()
    key = next(k for k, a in _account_of.items() if a == account_id)
    stamp = now_iso()
    with emulator(sandbox).lock:
        tag = Segment(id=audience.next_segment_id, name=f"segsync: {segment}", created_at=stamp, updated_at=stamp,
                      members={key: stamp})
        audience.segments[tag.id] = tag
        audience.next_segment_id += 1


def clear_log(sandbox) -> None:
    emulator(sandbox).log.clear()


def clear_faults(sandbox) -> None:
    emulator(sandbox).faults.clear()


CASE = ContractCase(name="mailchimp", sandbox="mailchimp_sandbox", settings=SETTINGS, seed=seed, observed=observed,
                    write_calls=write_calls, min_calls=suite_min_calls, reject_record=reject_record,
                    transient_record=transient_record, call_fault=call_fault, clear_log=clear_log,
                    clear_faults=clear_faults, foreign_member=foreign_member)

"""The Klaviyo case: a list per segment holding each account's contact profile (profiles exist already)."""
from __future__ import annotations

from tests.contract.destinations.harness import ContractCase
from tests.contract.destinations.list_case_support import (
    SUITE_BATCH,
    dataset_and_warehouse,
    first_contacts,
    suite_min_calls,
)

SETTINGS = {"type": "klaviyo", "batch_size": SUITE_BATCH}
_account_of: dict[str, str] = {}  # profile id -> product account id


def emulator(sandbox):
    return sandbox["klaviyo"]


def seed(sandbox, con, spec) -> list[str]:
    dataset_and_warehouse(con, spec)
    rows = first_contacts(con).to_pylist()
    state = emulator(sandbox).state
    with emulator(sandbox).lock:
        ids = [state.store_profile(None, {"email": row["email"]}) for row in rows]
    _account_of.clear()
    _account_of.update({pid: row["account_id"] for pid, row in zip(ids, rows)})
    emulator(sandbox).log.clear()
    return [row["account_id"] for row in rows]


def observed(sandbox, segment_names) -> dict[str, set[str]]:
    lists = {item.name: item for item in emulator(sandbox).state.lists.values()}
    found = {}
    for name in segment_names:
        listing = lists.get(f"segsync: {name}")
        found[name] = set() if listing is None else {_account_of[pid] for pid in listing.members}
    return found


def write_calls(sandbox) -> int:
    """Relationship adds/removes and bulk imports (creating the list once is setup, not per change)."""
    return sum(1 for e in emulator(sandbox).log.entries() if (e.method in ("POST", "DELETE") and
               e.path.rstrip("/").endswith("/relationships/profiles")) or
               (e.method == "POST" and e.path.rstrip("/") == "/api/profile-bulk-import-jobs"))


def profile_of(account_id: str) -> str:
    return next(pid for pid, account in _account_of.items() if account == account_id)


def reject_record(sandbox, con, account_id: str) -> None:
    emulator(sandbox).faults.add({"record_ids": [profile_of(account_id)], "code": "invalid", "times": None,
                                  "message": "profile is suppressed for this list"})


def transient_record(sandbox, account_id: str, times: int) -> None:
    """The contact has no profile yet (so it goes through a bulk import) and its import hits a passing conflict."""
    state = emulator(sandbox).state
    profile = profile_of(account_id)
    with emulator(sandbox).lock:
        email = state.profiles.pop(profile)["email"].lower()
        state.by_identifier.pop(("email", email), None)
    emulator(sandbox).faults.add({"record_ids": [email], "code": "conflict", "times": times,
                                  "message": "the profile is being merged; try again"})


def call_fault(sandbox, status: int, times: int | None) -> None:
    emulator(sandbox).faults.add({"path": r"/relationships/profiles/?$", "status": status, "times": times})


def foreign_member(sandbox, con, segment: str, account_id: str) -> None:
    """A person created the list (segsync finds it by name) and added a profile by hand."""
    state = emulator(sandbox).state
    with emulator(sandbox).lock:
        listing = state.create_list({"data": {"type": "list", "attributes": {"name": f"segsync: {segment}"}}})
        listing.members[profile_of(account_id)] = listing.created


def clear_log(sandbox) -> None:
    emulator(sandbox).log.clear()


def clear_faults(sandbox) -> None:
    emulator(sandbox).faults.clear()


CASE = ContractCase(name="klaviyo", sandbox="klaviyo_sandbox", settings=SETTINGS, seed=seed, observed=observed,
                    write_calls=write_calls, min_calls=suite_min_calls, reject_record=reject_record,
                    transient_record=transient_record, call_fault=call_fault, clear_log=clear_log,
                    clear_faults=clear_faults, foreign_member=foreign_member)

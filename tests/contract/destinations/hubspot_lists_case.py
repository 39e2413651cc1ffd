"""The HubSpot list case (run by test_hubspot_lists_suite.py): one MANUAL company list per segment, 200-id calls."""
from __future__ import annotations

from sandbox.hubspot.state import HubList
from tests.contract.destinations.harness import ContractCase
from tests.contract.destinations.list_case_support import SUITE_BATCH, dataset_and_warehouse, suite_min_calls

SETTINGS = {"type": "hubspot", "list_batch_size": SUITE_BATCH}
MEMBERSHIP_WRITES = (r"/memberships/add", "/memberships/remove")
_account_of: dict[str, str] = {}  # HubSpot company id -> product account id


def emulator(sandbox):
    return sandbox["hubspot"]


def seed(sandbox, con, spec) -> list[str]:
    dataset = dataset_and_warehouse(con, spec)
    rows = dataset.accounts.select(["account_id", "name", "hubspot_id"]).to_pylist()
    store = emulator(sandbox).store("companies")
    with emulator(sandbox).lock:
        for row in rows:
            store.insert({"name": row["name"]}, record_id=row["hubspot_id"])
    _account_of.clear()
    _account_of.update({row["hubspot_id"]: row["account_id"] for row in rows})
    emulator(sandbox).log.clear()
    return [row["account_id"] for row in rows]


def observed(sandbox, segment_names) -> dict[str, set[str]]:
    found = {}
    for name in segment_names:
        listing = emulator(sandbox).state.list_by_name(f"segsync: {name}")
        found[name] = set() if listing is None else {_account_of[i] for i in listing.members}
    return found


def write_calls(sandbox) -> int:
    return sum(1 for e in emulator(sandbox).log.entries() if e.method == "PUT" and e.path.endswith(MEMBERSHIP_WRITES))


def company_id(con, account_id: str) -> str:
    return con.execute("SELECT hubspot_company_id FROM accounts WHERE account_id = ?", [account_id]).fetchone()[0]


def reject_record(sandbox, con, account_id: str) -> None:
    """The company is deleted in HubSpot: adding it is refused (recordIdsMissing) on every run."""
    store = emulator(sandbox).store("companies")
    with emulator(sandbox).lock:
        store.archive(store.records[company_id(con, account_id)])


def transient_record(sandbox, account_id: str, times: int) -> None:
    """Membership calls carry no per-record results: a record's transient failure is its whole call's."""
    call_fault(sandbox, 503, times)


def call_fault(sandbox, status: int, times: int | None) -> None:
    emulator(sandbox).faults.add({"method": "PUT", "path": r"/memberships/(add|remove)$", "status": status,
                                  "times": times})


def foreign_member(sandbox, con, segment: str, account_id: str) -> None:
    """A person made the MANUAL list (segsync finds it by name) and put a company in it by hand."""
    state = emulator(sandbox).state
    with emulator(sandbox).lock:
        listing = HubList(str(state.next_list_id), f"segsync: {segment}", "0-2", "MANUAL", None, 1, 1)
        state.next_list_id += 1
        listing.members[company_id(con, account_id)] = 1
        state.lists[listing.list_id] = listing


def clear_log(sandbox) -> None:
    emulator(sandbox).log.clear()


def clear_faults(sandbox) -> None:
    emulator(sandbox).faults.clear()


CASE = ContractCase(name="hubspot", sandbox="hubspot_sandbox", settings=SETTINGS, seed=seed, observed=observed,
                    write_calls=write_calls, min_calls=suite_min_calls, reject_record=reject_record,
                    transient_record=transient_record, call_fault=call_fault, clear_log=clear_log,
                    clear_faults=clear_faults, foreign_member=foreign_member)

"""Seed companies, contacts and their associations from a dataset's Arrow tables (accounts, contacts)."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sandbox.hubspot.properties import Option
from sandbox.hubspot.records import ObjectStore, Record
from sandbox.hubspot.state import HubSpotState



def _epoch_seconds(column) -> pa.Array:
    """Signup dates (date, timestamp or ISO string) as epoch seconds at midnight UTC."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.strptime(pc.utf8_slice_codeunits(column, 0, 10), format="%Y-%m-%d", unit="s",
                             error_is_null=True)
    elif pa.types.is_date(column.type):
        column = pc.cast(pc.cast(column, pa.date32()), pa.timestamp("s"))
    column = pc.cast(column, pa.timestamp("s", tz=getattr(column.type, "tz", None)))
    return pc.cast(pc.cast(column, pa.timestamp("s")), pa.int64())


def _created_ms(signup, salt: int) -> pa.Array:
    """Deterministic create times: the signup day plus a row-dependent second (< 65,536 s), in epoch ms."""
    seconds = pc.fill_null(_epoch_seconds(signup), 1_577_836_800)  # 2020-01-01 when there is no signup date
    rows = pa.array(range(salt, salt + len(seconds)), pa.int64())
    offset = pc.bit_wise_and(pc.multiply(rows, 7919), 0xFFFF)
    return pc.multiply(pc.add(seconds, offset), 1000)


def _iso(ms: pa.Array) -> list[str]:
    stamps = pc.cast(pc.divide(ms, 1000), pa.timestamp("s"))
    return pc.binary_join_element_wise(pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S"), ".000Z", "").to_pylist()


def _text(table: pa.Table, name: str) -> list:
    return pc.cast(table.column(name), pa.string()).to_pylist() if name in table.column_names else [None] * len(table)


def _check_ids(ids: list, what: str) -> None:
    bad = [i for i in ids if i is None or not str(i).isdigit()]
    if bad:
        raise ValueError(f"dataset.{what}.hubspot_id must be numeric strings; got {bad[:3]!r} ({len(bad)} rows)")
    if len(set(ids)) != len(ids):
        raise ValueError(f"dataset.{what}.hubspot_id has duplicate ids ({len(ids) - len(set(ids))} repeats)")


def _fill(store: ObjectStore, ids: list[str], columns: dict[str, list], created: list[int], iso: list[str]) -> int:
    """Bulk insert without per-record validation (seed data is trusted); returns records skipped as duplicates."""
    modified = store.meta["modified"]
    names = list(columns)
    unique = {n: store.unique[n] for n in names if n in store.unique}
    skipped = 0
    for row, rid in enumerate(ids):
        props = {n: columns[n][row] for n in names}
        if any(props[n] is not None and props[n] in index for n, index in unique.items()):
            skipped += 1
            continue
        props["hs_object_id"] = rid
        props["createdate"] = props[modified] = iso[row]
        store.records[rid] = Record(rid, props, created[row], created[row])
        for n, index in unique.items():
            if props[n] is not None:
                index[props[n]] = rid
    store.sorted_ids = sorted(int(r) for r in store.records)
    store.next_id = (store.sorted_ids[-1] + 1) if store.sorted_ids else 1
    store.version += 1
    return skipped


def seed_state(state: HubSpotState, dataset) -> dict:
    """Load dataset.accounts as companies and dataset.contacts as contacts (with company associations)."""
    accounts = dataset.accounts.filter(pc.is_valid(dataset.accounts.column("hubspot_id")))
    company_ids = _text(accounts, "hubspot_id")
    _check_ids(company_ids, "accounts")
    industries = _text(accounts, "industry")
    registry = state.registries["companies"]
    known = registry.props["industry"].option_values()
    for label in sorted({i for i in industries if i is not None} - known):
        registry.props["industry"].options.append(Option(label, label, len(registry.props["industry"].options)))
    created = _created_ms(accounts.column("signup_date"), 0)
    companies = state.stores["companies"]
    skipped_companies = _fill(companies, company_ids, {
        "name": _text(accounts, "name"), "domain": _text(accounts, "domain"), "industry": industries,
        "country": _text(accounts, "country"), "product_account_id": _text(accounts, "account_id"),
    }, created.to_pylist(), _iso(created))

    contacts_table = dataset.contacts.filter(pc.is_valid(dataset.contacts.column("hubspot_id")))
    link = accounts.select(["account_id", "hubspot_id", "signup_date"]).rename_columns(
        ["account_id", "company_hubspot_id", "company_signup_date"])
    joined = contacts_table.join(link, "account_id", join_type="left outer")
    contact_ids = _text(joined, "hubspot_id")
    _check_ids(contact_ids, "contacts")
    emails = [e.lower() if e is not None else None for e in _text(joined, "email")]
    created = _created_ms(joined.column("company_signup_date"), 17)
    contacts = state.stores["contacts"]
    skipped_contacts = _fill(contacts, contact_ids, {
        "email": emails, "firstname": _text(joined, "first_name"), "lastname": _text(joined, "last_name"),
        "jobtitle": _text(joined, "title"),
    }, created.to_pylist(), _iso(created))

    pairs = joined.select(["hubspot_id", "company_hubspot_id"]).filter(pc.is_valid(joined.column("company_hubspot_id")))
    pair_contacts = _text(pairs, "hubspot_id")
    pair_companies = _text(pairs, "company_hubspot_id")
    assoc = state.associations
    linked = 0
    for contact, company in zip(pair_contacts, pair_companies):
        if contact in contacts.records and company in companies.records:
            assoc.by_company.setdefault(company, set()).add(contact)
            assoc.by_contact[contact] = {company}
            assoc.primary_company[contact] = company
            linked += 1
    return {"companies": len(companies.records), "contacts": len(contacts.records), "associations": linked,
            "skipped_duplicate_companies": skipped_companies, "skipped_duplicate_emails": skipped_contacts}

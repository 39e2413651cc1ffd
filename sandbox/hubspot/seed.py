"""Seed companies, contacts and their associations from a dataset's Arrow tables (accounts, contacts)."""
from __future__ import annotations

import gc

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


def _strings(table: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """The named columns as strings (missing ones as nulls), so joins and grouping see one type."""
    return pa.table({n: pc.cast(table.column(n), pa.string()) if n in table.column_names
                     else pa.nulls(len(table), pa.string()) for n in names})


def _check_ids(ids: pa.ChunkedArray, what: str) -> None:
    numeric = pc.fill_null(pc.match_substring_regex(ids, r"^[0-9]+$"), False)
    bad = pc.sum(pc.invert(numeric)).as_py() or 0
    if bad:
        sample = ids.filter(pc.invert(numeric)).to_pylist()[:3]
        raise ValueError(f"dataset.{what}.hubspot_id must be numeric strings; got {sample!r} ({bad} rows)")
    repeats = len(ids) - pc.count_distinct(ids).as_py()
    if repeats:
        raise ValueError(f"dataset.{what}.hubspot_id has duplicate ids ({repeats} repeats)")


def _first_rows(table: pa.Table, columns: list[str]) -> pa.Array:
    """A mask keeping the first row of every non-null value of each unique column (later duplicates dropped)."""
    rows = pa.array(range(len(table)), pa.int64())
    keep = pc.is_valid(rows)
    indexed = table.append_column("__row", rows)
    for name in columns:
        present = indexed.filter(pc.is_valid(indexed.column(name)))
        firsts = present.group_by(name).aggregate([("__row", "min")]).column("__row_min")
        is_first = pc.or_(pc.is_in(rows, value_set=firsts), pc.is_null(indexed.column(name)))
        keep = pc.and_(keep, is_first)
    return keep


def _shared_strings(column: pa.ChunkedArray) -> list:
    """Column values as Python strings; a low-cardinality column reuses one object per distinct value."""
    values = column.to_pylist()
    if pc.count_distinct(column).as_py() * 4 < len(values):
        shared = {v: v for v in set(values)}
        values = [shared[v] for v in values]
    return values


def _fill(store: ObjectStore, table: pa.Table, columns: dict[str, str], created_ms: pa.Array, *,
          dedupe: bool = True) -> pa.Table:
    """Bulk insert without per-record validation (seed data is trusted); returns the rows kept (duplicates dropped)."""
    modified = store.meta["modified"]
    unique = [prop for prop in columns if prop in store.unique]
    renamed = pa.table({prop: pc.cast(table.column(col), pa.string()) for prop, col in columns.items()})
    renamed = renamed.append_column("__id", pc.cast(table.column("hubspot_id"), pa.string()))
    renamed = renamed.append_column("__created", created_ms)
    kept = renamed.filter(_first_rows(renamed, unique)) if unique and dedupe else renamed
    ids = kept.column("__id").to_pylist()
    created = kept.column("__created").to_pylist()
    iso = _iso(kept.column("__created").combine_chunks())
    names = list(columns)
    values = [_shared_strings(kept.column(n)) for n in names]
    records = store.records
    for rid, ms, stamp, *row in zip(ids, created, iso, *values):
        props = dict(zip(names, row))
        props["hs_object_id"] = rid
        props["createdate"] = props[modified] = stamp
        records[rid] = Record(rid, props, ms, ms)
    for prop in unique:
        store.unique[prop].update((v, rid) for v, rid in zip(kept.column(prop).to_pylist(), ids) if v is not None)
    store.sorted_ids = sorted(map(int, records))
    store.next_id = (store.sorted_ids[-1] + 1) if store.sorted_ids else 1
    store.version += 1
    return kept


def seed_state(state: HubSpotState, dataset) -> dict:
    """Load dataset.accounts as companies and dataset.contacts as contacts (with company associations)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of new dicts: generational GC passes would dominate the seed time
    try:
        return _seed(state, dataset)
    finally:
        if gc_was_enabled:
            gc.enable()


def _seed(state: HubSpotState, dataset) -> dict:
    accounts = dataset.accounts.filter(pc.is_valid(dataset.accounts.column("hubspot_id")))
    accounts = _strings(accounts, ("account_id", "name", "domain", "industry", "country", "hubspot_id")) \
        .append_column("signup_date", accounts.column("signup_date"))
    _check_ids(accounts.column("hubspot_id"), "accounts")
    industry = state.registries["companies"].props["industry"]
    known = industry.option_values()
    for label in sorted(set(pc.unique(accounts.column("industry")).drop_null().to_pylist()) - known):
        industry.options.append(Option(label, label, len(industry.options)))
    companies = state.stores["companies"]
    kept_companies = _fill(companies, accounts, {
        "name": "name", "domain": "domain", "industry": "industry", "country": "country",
        "product_account_id": "account_id"}, _created_ms(accounts.column("signup_date"), 0))

    source = dataset.contacts.filter(pc.is_valid(dataset.contacts.column("hubspot_id")))
    contacts_table = _strings(source, ("account_id", "email", "first_name", "last_name", "title", "hubspot_id"))
    _check_ids(contacts_table.column("hubspot_id"), "contacts")
    link = accounts.select(["account_id", "hubspot_id", "signup_date"]).rename_columns(
        ["account_id", "company_hubspot_id", "company_signup_date"])
    contacts_table = contacts_table.append_column("__order", pa.array(range(len(contacts_table)), pa.int64()))
    joined = contacts_table.join(link, "account_id", join_type="left outer").sort_by("__order")
    joined = joined.set_column(joined.column_names.index("email"), "email", pc.utf8_lower(joined.column("email")))
    contacts = state.stores["contacts"]
    joined = joined.filter(_first_rows(joined, ["email"]))
    kept_contacts = _fill(contacts, joined, {
        "email": "email", "firstname": "first_name", "lastname": "last_name", "jobtitle": "title"},
        _created_ms(joined.column("company_signup_date"), 17), dedupe=False)
    pairs = joined.select(["hubspot_id", "company_hubspot_id"])
    pairs = pairs.filter(pc.is_valid(pairs.column("company_hubspot_id")))
    if len(kept_companies) != len(accounts):
        pairs = pairs.filter(pc.is_in(pairs.column("company_hubspot_id"), value_set=kept_companies.column("__id")))
    assoc = state.associations
    assoc.primary_company = dict(zip(pairs.column("hubspot_id").to_pylist(),
                                     pairs.column("company_hubspot_id").to_pylist()))
    assoc.by_contact = {contact: {company} for contact, company in assoc.primary_company.items()}
    grouped = pairs.group_by("company_hubspot_id").aggregate([("hubspot_id", "list")])
    assoc.by_company = {company: set(members) for company, members in
                        zip(grouped.column("company_hubspot_id").to_pylist(),
                            grouped.column("hubspot_id_list").to_pylist())}
    return {"companies": len(companies.records), "contacts": len(contacts.records),
            "associations": len(assoc.primary_company),
            "skipped_duplicate_companies": len(accounts) - len(kept_companies),
            "skipped_duplicate_emails": len(contacts_table) - len(kept_contacts)}

"""Seeds the org from a dataset's Arrow tables: accounts -> Account, contacts -> Contact (column-wise, fast)."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import DEFAULT_OWNER_ID

ACCOUNT_COLUMNS = {  # Account field <- dataset.accounts column
    "Id": "salesforce_id", "Name": "name", "Product_Account_Id__c": "account_id", "Website": "domain",
    "BillingCountry": "country", "AccountSource": "referral_source", "Industry": "industry",
}
CONTACT_COLUMNS = {  # Contact field <- dataset.contacts column
    "Id": "salesforce_id", "FirstName": "first_name", "LastName": "last_name", "Email": "email", "Title": "title",
}


def _require(table: pa.Table, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"dataset.{what} lacks columns {missing}; expected the columns in docs/architecture.md "
                         f"(has {table.column_names})")


def _as_text(column: pa.ChunkedArray) -> list:
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
    return column.to_pylist()


def _created_dates(table: pa.Table, stamp: str) -> list:
    if "signup_date" not in table.column_names:
        return [stamp] * table.num_rows
    days = pc.cast(table["signup_date"], pa.timestamp("s"))
    texts = pc.binary_join_element_wise(pc.strftime(days, format="%Y-%m-%dT%H:%M"), ":00.000+0000", "")
    return pc.fill_null(texts, stamp).to_pylist()


def _build(columns: dict[str, list], base: dict) -> list[dict]:
    names = list(columns)
    return [{**base, **dict(zip(names, values))} for values in zip(*columns.values())]


def seed_org(org: Org, dataset) -> dict[str, int]:
    """Replace the org's records with the dataset's accounts and contacts; one SystemModstamp for the load."""
    stamp = org.next_stamp()
    accounts: pa.Table = dataset.accounts
    contacts: pa.Table = dataset.contacts
    _require(accounts, list(ACCOUNT_COLUMNS.values()), "accounts")
    _require(contacts, list(CONTACT_COLUMNS.values()) + ["account_id"], "contacts")

    account_obj = org.objects["Account"]
    account_base = {f.name: f.default for f in account_obj.fields.values()}
    account_base.update(OwnerId=DEFAULT_OWNER_ID, LastModifiedDate=stamp, SystemModstamp=stamp, IsDeleted=False)
    account_cols = {field: _as_text(accounts[column]) for field, column in ACCOUNT_COLUMNS.items()}
    account_cols["CreatedDate"] = _created_dates(accounts, stamp)
    account_rows = _build(account_cols, account_base)

    positions = pc.index_in(pc.cast(contacts["account_id"], pa.string()),
                            value_set=pc.cast(accounts["account_id"], pa.string()))
    parent_ids = pc.take(pc.cast(accounts["salesforce_id"], pa.string()), positions)
    contact_obj = org.objects["Contact"]
    contact_base = {f.name: f.default for f in contact_obj.fields.values()}
    contact_base.update(OwnerId=DEFAULT_OWNER_ID, CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp,
                        IsDeleted=False)
    contact_cols = {field: _as_text(contacts[column]) for field, column in CONTACT_COLUMNS.items()}
    contact_cols["AccountId"] = _as_text(parent_ids)
    contact_rows = _build(contact_cols, contact_base)

    org.records["Account"] = {row["Id"]: row for row in account_rows}
    org.records["Contact"] = {row["Id"]: row for row in contact_rows}
    org.rebuild_indexes()
    return {"Account": len(account_rows), "Contact": len(contact_rows)}

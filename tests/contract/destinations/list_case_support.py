"""Shared seeding for the list/tag destination cases: one contact per account, id maps for reading state back."""
from __future__ import annotations

import math

import pyarrow as pa

from sandbox.datasets import load_dataset
from tests.contract.destinations.harness import write_warehouse

SUITE_BATCH = 200  # the cases configure 200-record batches so the suite's 199/200/201 and kill-at-450 bite


def dataset_and_warehouse(con, spec):
    """The dataset, with the warehouse's `contacts` cut to one contact per account whose email no other account
    shares (so one synced record stands for one account), and `accounts` to the accounts that have one."""
    dataset = load_dataset(spec)
    write_warehouse(con, dataset)
    con.execute("""CREATE OR REPLACE TABLE contacts AS
                   SELECT * FROM contacts
                   WHERE email IN (SELECT email FROM contacts GROUP BY email HAVING count(DISTINCT account_id) = 1)
                   QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY email) = 1""").fetchall()
    con.execute("DELETE FROM accounts WHERE account_id NOT IN (SELECT account_id FROM contacts)").fetchall()
    return dataset


def first_contacts(con) -> pa.Table:
    return con.sql("SELECT account_id, email FROM contacts ORDER BY account_id").to_arrow_table()


def suite_min_calls(n: int) -> int:
    return math.ceil(n / SUITE_BATCH)

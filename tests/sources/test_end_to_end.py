"""All four sources against the sandboxes: full ingest + build, then an unchanged second ingest reads only the overlap."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import unquote_plus

import pytest

from segsync import store
from segsync.build import build_accounts
from segsync.cli.sources_cmd import render_matches
from sources import ingest_all
from tests.sources.rawdata import project_config

AS_OF = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def world(sf_sandbox, hubspot_sandbox, stripe_sandbox, tmp_path):
    from sandbox.datasets import load_dataset
    from sandbox.product_db import write_product_db

    dataset = load_dataset({"dataset": "ravenstack", "today": "2026-12-01"})
    env = {}
    for sandbox, vendor in ((sf_sandbox, "salesforce"), (hubspot_sandbox, "hubspot"), (stripe_sandbox, "stripe")):
        emulator = sandbox[vendor]
        with emulator.lock:
            emulator.seed(dataset)
        emulator.log.clear()
        env.update(sandbox.env())
    env["PRODUCT_DB_URL"] = f"sqlite:///{tmp_path / 'product.db'}"
    write_product_db(dataset, env["PRODUCT_DB_URL"])
    emulators = {"salesforce": sf_sandbox["salesforce"], "hubspot": hubspot_sandbox["hubspot"],
                 "stripe": stripe_sandbox["stripe"]}
    return dataset, env, emulators


def test_full_then_unchanged_incremental(world, warehouse):
    dataset, env, emulators = world
    con = store.connect(warehouse)
    config = project_config()
    first = {r.source: r for r in ingest_all(con, config, env, full=True)}
    assert first["salesforce"].tables == {"raw_salesforce_account": 500,
                                          "raw_salesforce_contact": dataset.contacts.num_rows}
    built = build_accounts(con, config, as_of=AS_OF, run_id="b1")
    assert built.accounts == 500
    assert built.match_report == {"hubspot": {"matched": 500}, "salesforce": {"matched": 500},
                                  "stripe": {"matched": 490, "unmatched": 10}}
    reasons = con.execute("SELECT reason, count(*) FROM match_report WHERE source = 'stripe' AND status = 'unmatched' "
                          "GROUP BY reason").fetchall()
    assert reasons == [("domain gmail.com is freemail (never matched)", 10)]
    assert con.execute("SELECT count(*) FROM accounts WHERE salesforce_account_id IS NOT NULL "
                       "AND hubspot_company_id IS NOT NULL").fetchone()[0] == 500
    money = con.execute("SELECT count(*) FILTER (WHERE mrr_minor > 0), count(*) FILTER (WHERE mrr_minor IS NULL), "
                        "count(*) FILTER (WHERE mrr_reporting > 0) FROM accounts").fetchone()
    assert money[1] == built.data_issues["mixed_currency"] and money[2] >= money[0] + money[1] - 10, money
    assert built.data_issues["country_alias"] == 58 and built.data_issues["metered_price_excluded"] > 0
    from segsync.segments.columns import DECLARED_ACCOUNTS

    live = store.table_columns(con, "accounts")
    assert {c: live.get(c) for c in DECLARED_ACCOUNTS} == DECLARED_ACCOUNTS  # what the segments compile against
    snapshot = con.execute("SELECT * FROM accounts ORDER BY account_id").fetchall()

    for emulator in emulators.values():
        emulator.log.clear()
    second = {r.source: r for r in ingest_all(con, config, env)}
    sf_queries = [e for e in emulators["salesforce"].log.entries() if "/query" in e.path]
    assert len(sf_queries) == 2
    for entry in sf_queries:
        assert "SystemModstamp >= " in unquote_plus(entry.query)
    # the Salesforce seed stamps every record at one instant, so the overlap window holds exactly those records
    assert [e.records for e in sf_queries] == [500, dataset.contacts.num_rows]
    hubspot_reads = [e for e in emulators["hubspot"].log.entries() if e.path.endswith("/search")]
    assert [e.path for e in hubspot_reads] == ["/crm/v3/objects/companies/search", "/crm/v3/objects/contacts/search"]
    assert second["hubspot"].tables["raw_hubspot_company"] < 50
    assert second["hubspot"].requests < first["hubspot"].requests
    build_accounts(con, config, as_of=AS_OF, run_id="b2")
    after = con.execute("SELECT * FROM accounts ORDER BY account_id").fetchall()
    names = [c for c in store.table_columns(con, "accounts")]
    changed = sorted({(names[i], a[0]) for a, b in zip(after, snapshot) for i in range(len(a)) if a[i] != b[i]})
    assert changed == []

    table = render_matches(con)
    assert [c.header for c in table.columns] == ["source", "matched", "unmatched", "ambiguous", "total"]
    assert table.row_count == 3

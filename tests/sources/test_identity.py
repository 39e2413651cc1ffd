"""Identity: explicit ids first (15->18 normalised), then domains; freemail never; ambiguity and merges listed."""
from __future__ import annotations

import pytest

from segsync import store
from segsync.build import build_accounts
from segsync.identity import install_macros
from segsync.sfid import make_id, normalize
from sources import schemas
from tests.sources.rawdata import product_accounts, project_config, utc, write

SF = {n: make_id("001", n) for n in range(1, 10)}


def test_sql_id_normalisation_matches_segsync_sfid():
    import duckdb

    con = duckdb.connect()
    install_macros(con)
    ids = [make_id("001", n) for n in (0, 1, 77, 123456, 999_999)] + [make_id("003", 42)]
    for full in ids:
        short = full[:15]
        assert con.execute("SELECT segsync_sfid18(?)", [short]).fetchone()[0] == normalize(short) == full
        assert con.execute("SELECT segsync_sfid18(?)", [full[:15] + full[15:].lower()]).fetchone()[0] == full
        if short != short.lower():  # the 15 characters are case-sensitive: a lowercased body fails the checksum
            assert con.execute("SELECT segsync_sfid18(?)", [short.lower() + full[15:]]).fetchone()[0] is None
    assert sum(1 for full in ids if full[:15] != full[:15].lower()) >= 4
    assert con.execute("SELECT segsync_sfid18('001ABC')").fetchone()[0] is None
    bad_suffix = ids[0][:15] + ("AAA" if ids[0][15:] != "AAA" else "BBB")
    assert con.execute("SELECT segsync_sfid18(?)", [bad_suffix]).fetchone()[0] is None


def test_domain_normalisation():
    import duckdb

    con = duckdb.connect()
    install_macros(con)
    cases = {"https://www.Acme.com/about?x=1": "acme.com", "HTTP://acme.com:8080": "acme.com",
             " www.acme.com. ": "acme.com", "sales@Acme.COM": "acme.com", "": None, "sub.acme.co.uk/": "sub.acme.co.uk"}
    for raw, expected in cases.items():
        assert con.execute("SELECT segsync_domain(?)", [raw]).fetchone()[0] == expected, raw


@pytest.fixture
def matched(warehouse):
    con = store.connect(warehouse)
    product_accounts(con, [
        {"account_id": "P1", "domain": "acme.com", "salesforce_account_id": SF[1][:15]},
        {"account_id": "P2", "domain": "https://beta.io"},
        {"account_id": "P3", "domain": "dup.com"},
        {"account_id": "P4", "domain": "www.dup.com"},
        {"account_id": "P5", "domain": "gmail.com"},
        {"account_id": "P6", "domain": "six.com", "salesforce_account_id": SF[7]},
    ])
    sf = lambda n, **kw: {"id": SF[n], "name": f"SF{n}", "is_deleted": False, "system_modstamp": utc(2026, 1, n),
                          **kw}
    write(con, schemas.SALESFORCE_ACCOUNT, [
        sf(1, website="https://www.Acme.com/about"),
        sf(2, website="beta.io"),
        sf(3, website="http://dup.com"),
        sf(4, website="gmail.com"),
        sf(5, product_account_id="P2", website="acme.com"),
        sf(6, website="beta.io", is_deleted=True),
        sf(7, website="old-six.com", is_deleted=True, master_record_id=SF[8]),
        sf(8, website="other.com"),
    ])
    write(con, schemas.STRIPE_CUSTOMER, [
        {"id": "cus_1", "account_id": "P1", "email": "billing@beta.io"},
        {"id": "cus_2", "salesforce_account_id": SF[8][:15]},
        {"id": "cus_3", "email": "bob@gmail.com"},
        {"id": "cus_4", "email": "x@BETA.io"},
        {"id": "cus_5", "account_id": "NOPE"},
    ])
    write(con, schemas.HUBSPOT_COMPANY, [
        {"id": "101", "domain": "WWW.BETA.IO", "archived": False},
        {"id": "102", "domain": "acme.com", "archived": True},
        {"id": "103", "product_account_id": "P3", "domain": "dup.com", "archived": False},
    ])
    write(con, schemas.SALESFORCE_CONTACT, [
        {"id": "003A", "account_id": SF[1], "email": "Ann@Acme.com", "is_deleted": False},
        {"id": "003B", "account_id": SF[4], "email": "orphan@gmail.com", "is_deleted": False},
    ])
    write(con, schemas.HUBSPOT_CONTACT, [
        {"id": "201", "email": "ann@acme.com", "archived": False},
        {"id": "202", "email": "not-an-email", "archived": False},
        {"id": "203", "email": "cara@beta.io", "archived": False},
    ])
    write(con, schemas.HUBSPOT_COMPANY_CONTACT, [
        {"company_id": "101", "contact_id": "201", "is_primary": True},
        {"company_id": "101", "contact_id": "202", "is_primary": True},
        {"company_id": "101", "contact_id": "203", "is_primary": True},
    ])
    result = build_accounts(con, project_config(), as_of=utc(2026, 6, 1), run_id="identity")
    yield con, result
    con.close()


def report(con):
    return {(s, r): (a, st, reason) for s, r, a, st, reason in con.execute(
        "SELECT source, source_record_id, account_id, status, reason FROM match_report").fetchall()}


def test_match_report_rules_and_reasons(matched):
    con, result = matched
    rep = report(con)
    assert rep[("salesforce", SF[1])] == ("P1", "matched", f"crm_id: product database holds Salesforce id {SF[1][:15]}")
    assert rep[("salesforce", SF[2])] == ("P2", "matched", "domain: domain beta.io")
    assert rep[("salesforce", SF[3])] == (None, "ambiguous", "domain: domain dup.com matches 2 accounts (P3, P4)")
    assert rep[("salesforce", SF[4])] == (None, "unmatched", "domain gmail.com is freemail (never matched)")
    assert rep[("salesforce", SF[5])] == ("P2", "matched", "explicit_id: product account id P2")
    assert rep[("salesforce", SF[8])][:2] == ("P6", "matched")  # P6 holds the id of SF7, merged into SF8
    assert ("salesforce", SF[6]) not in rep and ("salesforce", SF[7]) not in rep  # deleted / merged away
    assert rep[("stripe", "cus_1")] == ("P1", "matched", "explicit_id: metadata account id P1")
    assert rep[("stripe", "cus_2")] == ("P6", "matched", f"crm_id: metadata Salesforce id {SF[8][:15]}")
    assert rep[("stripe", "cus_3")] == (None, "unmatched", "domain gmail.com is freemail (never matched)")
    assert rep[("stripe", "cus_4")] == ("P2", "matched", "domain: email domain beta.io")
    assert rep[("stripe", "cus_5")] == (None, "unmatched", "account id NOPE is not a product account; no usable domain")
    assert rep[("hubspot", "101")] == ("P2", "matched", "domain: domain beta.io")
    assert rep[("hubspot", "103")] == ("P3", "matched", "explicit_id: product account id P3")
    assert ("hubspot", "102") not in rep  # archived
    assert result.match_report == {"hubspot": {"matched": 2}, "salesforce": {"ambiguous": 1, "matched": 4,
                                                                              "unmatched": 1},
                                   "stripe": {"matched": 3, "unmatched": 2}}


def test_links_pick_the_best_rule_and_list_duplicates(matched):
    con, result = matched
    ids = dict(con.execute("SELECT account_id, salesforce_account_id FROM accounts").fetchall())
    assert ids == {"P1": SF[1], "P2": SF[5], "P3": None, "P4": None, "P5": None, "P6": SF[8]}
    assert con.execute("SELECT record_id, action FROM data_issues WHERE rule = 'duplicate_crm_record'").fetchall() == [
        ("P2", f"linked {SF[5]} (best rule, then latest update)")]
    assert result.data_issues["ambiguous_match"] == 1


def test_contacts_one_row_per_lowercased_email(matched):
    con, result = matched
    rows = con.execute("SELECT contact_key, account_id, email, salesforce_contact_id, hubspot_contact_id "
                       "FROM contacts ORDER BY contact_key").fetchall()
    assert rows == [("ann@acme.com", "P1", "Ann@Acme.com", "003A", None), ("cara@beta.io", "P2", "cara@beta.io", None, "203")]
    assert result.data_issues["contact_in_several_accounts"] == 1
    assert result.data_issues["invalid_email"] == 1
    assert result.data_issues["contact_without_account"] == 1
    assert dict(con.execute("SELECT account_id, contact_count FROM accounts WHERE contact_count > 0").fetchall()) == {
        "P1": 1, "P2": 1}

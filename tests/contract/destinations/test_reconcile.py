"""Drift reconciliation against each emulator: sync, tamper in the vendor by hand, reconcile reports exactly that
(with read calls only), and the next apply restores the desired state with the minimum write calls."""
from __future__ import annotations

from sandbox.mailchimp.store import now_iso, subscriber_hash
from segsync.sync.reconcile import reconcile
from tests.contract.destinations import case_klaviyo, case_mailchimp, case_salesforce, hubspot_lists_case
from tests.contract.destinations.harness import SEGMENT_NAMES, config_for
from tests.contract.destinations.test_contract import SEGS, expected, seeded, sync


def methods(emulator) -> list[str]:
    return [e.method for e in emulator.log.entries()]


def email_of(con, account_id: str) -> str:
    return con.execute("SELECT email FROM contacts WHERE account_id = ?", [account_id]).fetchone()[0]


def state_rows(con, destination: str) -> dict[tuple[str, str], tuple]:
    return {(t, k): (status, code) for t, k, status, code in con.execute(
        "SELECT target, record_key, status, last_code FROM sync_state WHERE destination = ?", [destination]).fetchall()}


def run_reconcile(con, case, sandbox, **settings):
    config = config_for(case)
    config.destinations[case.name].update(settings)
    return reconcile(con, config, SEGS, env=sandbox.env(), destinations=[case.name])[case.name]


def sync_with(con, case, sandbox, run_id, **settings):
    from segsync.sync import apply_sync, plan_sync
    from tests.contract.destinations.harness import FAST

    config = config_for(case)
    config.destinations[case.name].update(settings)
    plans = plan_sync(con, config, SEGS, env=sandbox.env(), run_id=run_id, destinations=[case.name])
    reports = apply_sync(con, plans, env=sandbox.env(), policy=FAST)
    return plans[case.name], reports[case.name]


def test_hubspot_removed_member_and_foreign_member(hubspot_sandbox, con):
    case, emu = hubspot_lists_case.CASE, hubspot_lists_case.emulator(hubspot_sandbox)
    ids, members = seeded(case, hubspot_sandbox, con)
    sync(con, case, hubspot_sandbox.env(), "r1", SEGS)
    gone, stranger = members["alpha"][3], ids[500]
    gone_id, stranger_id = hubspot_lists_case.company_id(con, gone), hubspot_lists_case.company_id(con, stranger)
    with emu.lock:
        listing = emu.state.list_by_name("segsync: alpha")
        del listing.members[gone_id]
        listing.members[stranger_id] = 1
    case.clear_log(hubspot_sandbox)

    report = run_reconcile(con, case, hubspot_sandbox)
    assert (report.checked, report.missing, report.changed, report.foreign, report.foreign_removing) == \
        (50, 1, 0, 1, 1)
    assert report.missing_sample == (("segsync: alpha", gone_id),)
    assert report.foreign_sample == (("segsync: alpha", stranger_id),)
    assert methods(emu) == ["GET"] * 4  # per list: find it by name, one page of members (limit 250)
    assert state_rows(con, "hubspot")[("segsync: alpha", gone_id)] == ("drifted", "DRIFT_MISSING")
    assert state_rows(con, "hubspot")[("segsync: alpha", stranger_id)] == ("foreign", "FOREIGN")

    plan, result = sync(con, case, hubspot_sandbox.env(), "r2", SEGS)
    assert (plan.adds, plan.updates, plan.removes) == (1, 0, 1)
    assert (result.synced, result.write_calls, case.write_calls(hubspot_sandbox)) == (2, 2, 2)
    assert case.observed(hubspot_sandbox, SEGMENT_NAMES) == expected(members)
    again = run_reconcile(con, case, hubspot_sandbox)
    assert (again.checked, again.missing, again.changed, again.foreign) == (50, 0, 0, 0)
    assert set(state_rows(con, "hubspot").values()) == {("synced", None)}


def test_hubspot_mirror_mode_reports_foreign_members_but_never_removes_them(hubspot_sandbox, con):
    case, emu = hubspot_lists_case.CASE, hubspot_lists_case.emulator(hubspot_sandbox)
    ids, members = seeded(case, hubspot_sandbox, con)
    sync_with(con, case, hubspot_sandbox, "r1", mode="mirror")
    stranger_id = hubspot_lists_case.company_id(con, ids[500])
    with emu.lock:
        emu.state.list_by_name("segsync: beta").members[stranger_id] = 1

    report = run_reconcile(con, case, hubspot_sandbox, mode="mirror")
    assert (report.checked, report.missing, report.changed, report.foreign, report.foreign_removing) == \
        (50, 0, 0, 1, 0)
    assert ("segsync: beta", stranger_id) not in state_rows(con, "hubspot")
    case.clear_log(hubspot_sandbox)
    plan, result = sync_with(con, case, hubspot_sandbox, "r2", mode="mirror")
    assert (plan.total, case.write_calls(hubspot_sandbox)) == (0, 0)
    assert case.observed(hubspot_sandbox, SEGMENT_NAMES)["beta"] == set(members["beta"]) | {ids[500]}


def test_hubspot_foreign_member_who_is_desired_is_adopted_without_a_write(hubspot_sandbox, con):
    case, emu = hubspot_lists_case.CASE, hubspot_lists_case.emulator(hubspot_sandbox)
    ids, members = seeded(case, hubspot_sandbox, con)
    sync(con, case, hubspot_sandbox.env(), "r1", SEGS)
    entering = ids[600]
    with emu.lock:  # a person added the company by hand before segsync would have
        emu.state.list_by_name("segsync: alpha").members[hubspot_lists_case.company_id(con, entering)] = 1
    from tests.contract.destinations.harness import set_members

    members = {"alpha": members["alpha"] + [entering], "beta": members["beta"]}
    set_members(con, members)
    report = run_reconcile(con, case, hubspot_sandbox)
    assert (report.foreign, report.foreign_removing) == (1, 0)
    case.clear_log(hubspot_sandbox)
    plan, _result = sync(con, case, hubspot_sandbox.env(), "r2", SEGS)
    assert (plan.total, case.write_calls(hubspot_sandbox)) == (0, 0)
    assert case.observed(hubspot_sandbox, SEGMENT_NAMES) == expected(members)


def test_salesforce_cleared_checkbox_is_changed_and_resent(sf_sandbox, con):
    case, emu = case_salesforce.CASE, case_salesforce.emulator(sf_sandbox)
    ids, members = seeded(case, sf_sandbox, con)
    sync(con, case, sf_sandbox.env(), "r1", SEGS)
    tampered = case_salesforce.salesforce_id(con, members["alpha"][0])
    with emu.lock:
        emu.org.records["Account"][tampered]["Segsync_Alpha__c"] = False
    case.clear_log(sf_sandbox)

    report = run_reconcile(con, case, sf_sandbox)
    assert (report.checked, report.missing, report.changed, report.foreign) == (40, 0, 1, 0)
    assert report.changed_sample == (("Account", tampered),)
    assert methods(emu) == ["GET"]  # one SOQL query for the 40 confirmed Accounts
    assert state_rows(con, "salesforce")[("Account", tampered)] == ("drifted", "DRIFT_CHANGED")

    plan, result = sync(con, case, sf_sandbox.env(), "r2", SEGS)
    assert (plan.adds, plan.updates, plan.removes) == (1, 0, 0)
    assert (result.synced, result.write_calls, case.write_calls(sf_sandbox)) == (1, 1, 1)
    assert emu.org.records["Account"][tampered]["Segsync_Alpha__c"] is True
    assert case.observed(sf_sandbox, SEGMENT_NAMES) == expected(members)
    again = run_reconcile(con, case, sf_sandbox)
    assert (again.checked, again.missing, again.changed, again.foreign) == (40, 0, 0, 0)


def test_mailchimp_removed_tag_and_foreign_tagged_contact(mailchimp_sandbox, con):
    case, emu = case_mailchimp.CASE, case_mailchimp.emulator(mailchimp_sandbox)
    ids, members = seeded(case, mailchimp_sandbox, con)
    sync(con, case, mailchimp_sandbox.env(), "r1", SEGS)
    gone, stranger = members["beta"][0], ids[500]
    audience = emu.default_audience()
    with emu.lock:
        tag = audience.segment_by_name("segsync: beta")
        del tag.members[subscriber_hash(email_of(con, gone))]
        tag.members[subscriber_hash(email_of(con, stranger))] = now_iso()
    case.clear_log(mailchimp_sandbox)

    report = run_reconcile(con, case, mailchimp_sandbox)
    assert (report.checked, report.missing, report.changed, report.foreign, report.foreign_removing) == \
        (50, 1, 0, 1, 1)
    assert report.missing_sample == (("segsync: beta", email_of(con, gone)),)
    assert report.foreign_sample == (("segsync: beta", email_of(con, stranger)),)
    assert methods(emu) == ["GET"] * 4  # the audience, the tags, one page of members per tag

    plan, result = sync(con, case, mailchimp_sandbox.env(), "r2", SEGS)
    assert (plan.adds, plan.updates, plan.removes) == (1, 0, 1)
    assert (result.synced, result.write_calls, case.write_calls(mailchimp_sandbox)) == (2, 2, 2)
    assert case.observed(mailchimp_sandbox, SEGMENT_NAMES) == expected(members)
    again = run_reconcile(con, case, mailchimp_sandbox)
    assert (again.checked, again.missing, again.changed, again.foreign) == (50, 0, 0, 0)


def test_klaviyo_removed_profile_and_foreign_profile(klaviyo_sandbox, con):
    case, emu = case_klaviyo.CASE, case_klaviyo.emulator(klaviyo_sandbox)
    ids, members = seeded(case, klaviyo_sandbox, con)
    sync(con, case, klaviyo_sandbox.env(), "r1", SEGS)
    gone, stranger = members["alpha"][7], ids[500]
    lists = {item.name: item for item in emu.state.lists.values()}
    with emu.lock:
        listing = lists["segsync: alpha"]
        del listing.members[case_klaviyo.profile_of(gone)]
        listing.members[case_klaviyo.profile_of(stranger)] = listing.created
    case.clear_log(klaviyo_sandbox)

    report = run_reconcile(con, case, klaviyo_sandbox)
    assert (report.checked, report.missing, report.changed, report.foreign, report.foreign_removing) == \
        (50, 1, 0, 1, 1)
    assert report.missing_sample == (("segsync: alpha", email_of(con, gone)),)
    assert report.foreign_sample == (("segsync: alpha", email_of(con, stranger)),)
    # per list: find it by name, one page of profile ids; one read of the 50 confirmed emails' profile ids; one
    # read of the email of the one profile id still unknown
    assert methods(emu) == ["GET"] * 6

    plan, result = sync(con, case, klaviyo_sandbox.env(), "r2", SEGS)
    assert (plan.adds, plan.updates, plan.removes) == (1, 0, 1)
    assert (result.synced, result.write_calls, case.write_calls(klaviyo_sandbox)) == (2, 2, 2)
    assert case.observed(klaviyo_sandbox, SEGMENT_NAMES) == expected(members)
    again = run_reconcile(con, case, klaviyo_sandbox)
    assert (again.checked, again.missing, again.changed, again.foreign) == (50, 0, 0, 0)


def test_reconcile_of_an_emulator_with_nothing_confirmed_checks_nothing(hubspot_sandbox, con):
    case = hubspot_lists_case.CASE
    seeded(case, hubspot_sandbox, con)
    report = run_reconcile(con, case, hubspot_sandbox)
    assert (report.checked, report.missing, report.changed, report.foreign) == (0, 0, 0, 0)
    assert hubspot_lists_case.emulator(hubspot_sandbox).state.list_by_name("segsync: alpha") is None

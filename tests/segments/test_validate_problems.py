"""`segsync validate` across files: destination problems beside condition problems (at their key's line),
references to segments that exist but have problems, priority problems at the priority key, operator
suggestions by field type, and a warehouse another process holds."""
import subprocess
import sys
import textwrap

import duckdb
import pytest
from typer.testing import CliRunner

from segsync.cli.main import app
from segsync.config import ProjectConfig
from segsync.errors import InputError
from segsync.segments import load_segments
from tests.segments.helpers import COLUMNS

DESTINATIONS = {"salesforce": {"type": "salesforce", "mode": "update_only"},
                "hubspot": {"type": "hubspot", "mode": "membership"}}
CHURN_RISK = """\
name: churn_risk
description: Weak health
where:
  all:
    - {field: helth_score, op: lt, value: 20}
"""
BETA_INVITE = """\
name: beta_invite
description: Healthy accounts not at risk
where:
  all:
    - {field: health_score, op: gte, value: 40}
    - not_in_segment: churn_risk
"""
STAGE_AT_RISK = """\
name: stage_at_risk
description: Lifecycle stage 1
priority: {group: lifecycle, rank: 1}
where:
  in_segment: churn_risk
"""
RISK_FLAG = """\
name: risk_flag
description: Many seats
destinations: {hubspt: true, salesforce: {checkbox_field: Segsync_Churn_Risk__c}}
where: {field: seats, op: greater, value: 10}
"""
CYC_A = """\
name: cyc_a
description: a
priority: {group: cyc, rank: 1}
where: {in_segment: cyc_c}
"""
CYC_C = """\
name: cyc_c
description: c
priority:
  group: cyc
  rank: 2
where: {field: seats, op: gt, value: 1}
"""


def write(folder, **files):
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(text))
    return folder


def problems(folder, config=True) -> list[str]:
    project = ProjectConfig(project_dir=folder.parent, destinations=DESTINATIONS) if config else None
    with pytest.raises(InputError) as info:
        load_segments(folder, columns=COLUMNS, config=project)
    return [str(p).replace(f"{folder}/", "") for p in info.value.problems]


def test_the_user_trial_gets_every_problem_at_once_each_at_its_key(tmp_path):
    folder = write(tmp_path / "segment_defs", churn_risk=CHURN_RISK, beta_invite=BETA_INVITE,
                   stage_at_risk=STAGE_AT_RISK, risk_flag=RISK_FLAG, cyc_a=CYC_A, cyc_c=CYC_C)
    assert problems(folder) == [
        "churn_risk.yaml:5: where.all[0].field: unknown field 'helth_score'; expected a column of accounts; "
        "did you mean 'health_score'?",
        "cyc_c.yaml:3: priority: segments depend on each other in a cycle: cyc_a -> cyc_c -> cyc_a ('cyc_c' ranks "
        "below 'cyc_a' in priority group 'cyc', so it depends on it); expected references (and priority groups) "
        "without loops",
        "risk_flag.yaml:3: destinations.hubspt: segment 'risk_flag' names an unknown destination (got 'hubspt'); "
        "expected hubspot / salesforce; did you mean 'hubspot'?",
        "risk_flag.yaml:3: destinations.salesforce.checkbox_field: salesforce: 'Segsync_Churn_Risk__c' is written "
        "by more than one segment or setting: churn_risk, risk_flag (got 'Segsync_Churn_Risk__c'); expected each "
        "field, list or tag owned by exactly one segment",
        "risk_flag.yaml:4: where.op: unknown operator 'greater'; expected one of the operators for number field "
        "'seats': eq, ne, in, not_in, gt, gte, lt, lte, between, is_null; did you mean 'gt'?",
    ]


def test_destination_problems_of_a_block_mapping_point_at_the_destination_key(tmp_path):
    folder = write(tmp_path / "segment_defs", a_claim="""\
        name: a_claim
        description: claims churn_risk's checkbox
        where: {field: seats, op: gt, value: 1}
        destinations:
          mailchimp: true
          salesforce:
            value: claimed
            checkbox_field: Segsync_Churn_Risk__c
        """, churn_risk="""\
        name: churn_risk
        description: the default owner of Segsync_Churn_Risk__c
        where: {field: sets, op: gt, value: 1}
        """)
    assert problems(folder) == [
        "a_claim.yaml:5: destinations.mailchimp: segment 'a_claim' names an unknown destination (got 'mailchimp'); "
        "expected hubspot / salesforce",
        "a_claim.yaml:8: destinations.salesforce.checkbox_field: salesforce: 'Segsync_Churn_Risk__c' is written by "
        "more than one segment or setting: a_claim, churn_risk (got 'Segsync_Churn_Risk__c'); expected each field, "
        "list or tag owned by exactly one segment",
        "churn_risk.yaml:3: where.field: unknown field 'sets'; expected a column of accounts; did you mean 'seats'?",
    ]


def test_a_reference_to_a_segment_with_problems_is_not_an_unknown_segment(tmp_path):
    folder = write(tmp_path / "segment_defs", churn_risk=CHURN_RISK, beta_invite=BETA_INVITE,
                   stage_at_risk=STAGE_AT_RISK)
    assert problems(folder, config=False) == [
        "churn_risk.yaml:5: where.all[0].field: unknown field 'helth_score'; expected a column of accounts; "
        "did you mean 'health_score'?"]


def test_a_reference_to_an_unreadable_file_of_that_name_is_not_an_unknown_segment(tmp_path):
    folder = write(tmp_path / "segment_defs", beta_invite=BETA_INVITE)
    (folder / "churn_risk.yaml").write_text("name: churn_risk\ndescription: d\nwhere:\n  all:\n  - {field: seats\n")
    assert problems(folder, config=False) == [
        "churn_risk.yaml:6: not valid YAML: expected ',' or '}', but got '<stream end>'; expected well-formed YAML "
        "(check indentation and quotes)"]


def test_a_misspelt_reference_is_still_unknown_next_to_a_broken_segment(tmp_path):
    folder = write(tmp_path / "segment_defs", churn_risk=CHURN_RISK,
                   beta_invite=BETA_INVITE.replace("not_in_segment: churn_risk", "not_in_segment: churn_risc"))
    assert problems(folder, config=False) == [
        "beta_invite.yaml:6: where.all[1].not_in_segment: unknown segment 'churn_risc'; expected the name of a "
        "segment",
        "churn_risk.yaml:5: where.all[0].field: unknown field 'helth_score'; expected a column of accounts; "
        "did you mean 'health_score'?"]


def test_duplicate_rank_points_at_the_rank_key(tmp_path):
    folder = write(tmp_path / "segment_defs", cyc_c=CYC_C, cyc_d=CYC_C.replace("cyc_c", "cyc_d"))
    assert problems(folder, config=False) == [
        "cyc_d.yaml:5: priority.rank: rank 2 of priority group 'cyc' is also used by 'cyc_c'; expected a distinct "
        "rank per segment in a group"]


def test_operator_suggestions_come_from_the_field_type(tmp_path):
    folder = write(tmp_path / "segment_defs", ops="""\
        name: ops
        description: operator words
        where:
          all:
            - {field: plan_tier, op: startswith, value: Pro}
            - {field: renewal_date, op: less than, value: 2026-01-01}
            - {field: nosuch, op: greater, value: 1}
        """)
    assert problems(folder, config=False) == [
        "ops.yaml:5: where.all[0].op: unknown operator 'startswith'; expected one of the operators for string field "
        "'plan_tier': eq, ne, in, not_in, is_null, contains, starts_with; did you mean 'starts_with'?",
        "ops.yaml:6: where.all[1].op: unknown operator 'less than'; expected one of the operators for date field "
        "'renewal_date': eq, ne, in, not_in, gt, gte, lt, lte, between, is_null, within_last, within_next, "
        "more_than_ago, before, after; did you mean 'before'?",
        "ops.yaml:7: where.all[2].field: unknown field 'nosuch'; expected a column of accounts",
        "ops.yaml:7: where.all[2].op: unknown operator 'greater'; expected one of eq, ne, in, not_in, gt, gte, lt, "
        "lte, between, is_null, contains, starts_with, within_last, within_next, more_than_ago, before, after",
    ]


HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_validate_falls_back_to_the_declared_columns_while_another_process_holds_the_warehouse(
        tmp_path, warehouse, monkeypatch):
    write(tmp_path / "segment_defs", small="""\
        name: small
        description: few seats, checked against a column only the declared schema has
        where: {field: health_score, op: lt, value: 10}
        """)
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE TABLE accounts (account_id VARCHAR, seats BIGINT)")  # a warehouse without health_score
    con.close()
    (tmp_path / "segsync.yaml").write_text("segments_dir: segment_defs\ndestinations:\n"
                                           "  hubspot: {type: hubspot, mode: membership}\n")
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = CliRunner().invoke(app, ["validate", "--config", "segsync.yaml"])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 0, result.output
    assert "is in use by another process; checking against the documented columns instead." in result.output
    assert result.output.rstrip().endswith("1 segment(s) OK: small")
    result = CliRunner().invoke(app, ["validate", "--config", "segsync.yaml"])  # lock released: live columns
    assert result.exit_code == 1
    assert "segment_defs/small.yaml:3: where.field: unknown field 'health_score'; expected a column of accounts" \
        in result.output

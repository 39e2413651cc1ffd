"""Loader checks across files: names, references, cycles, priorities, YAML traps, the real definitions, JSON Schema."""
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from segsync.config import ProjectConfig
from segsync.errors import InputError, Problem
from segsync.segments import compile_segments, load_segment_texts, load_segments, segment_json_schema
from segsync.segments.columns import DECLARED_ACCOUNTS
from segsync.segments.model import Leaf
from tests.segments.helpers import COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SEGMENT_DEFS = ROOT / "segment_defs"


def seg(name: str, where: str, extra: str = "") -> str:
    return f"name: {name}\ndescription: d\nwhere: {where}\n{extra}"


def problems_of(texts: dict[str, str]) -> list[str]:
    with pytest.raises(InputError) as info:
        load_segment_texts(texts, columns=COLUMNS)
    return [str(p) for p in info.value.problems]


def test_duplicate_names_across_files():
    assert problems_of({"a.yaml": seg("x", "{field: seats, op: gt, value: 1}"),
                        "b.yaml": seg("x", "{field: seats, op: lt, value: 1}")}) == [
        "b.yaml:1: name: duplicate segment name 'x'; expected a unique name (also defined in a.yaml:1)"]


def test_reference_cycle_across_two_files():
    assert problems_of({"a.yaml": seg("a", "{in_segment: b}"), "b.yaml": seg("b", "{not_in_segment: a}")}) == [
        "b.yaml:3: where.not_in_segment: segments depend on each other in a cycle: a -> b -> a; "
        "expected references (and priority groups) without loops"]


def test_cycle_through_a_priority_group_is_rejected():
    texts = {"a.yaml": seg("a", "{in_segment: b}", "priority: {group: g, rank: 1}\n"),
             "b.yaml": seg("b", "{field: seats, op: gt, value: 1}", "priority: {group: g, rank: 2}\n")}
    assert problems_of(texts) == [
        "b.yaml:4: priority: segments depend on each other in a cycle: a -> b -> a ('b' ranks below 'a' in priority "
        "group 'g', so it depends on it); expected references (and priority groups) without loops"]


def test_duplicate_rank_in_a_priority_group():
    texts = {"a.yaml": seg("a", "{field: seats, op: gt, value: 1}", "priority: {group: g, rank: 1}\n"),
             "b.yaml": seg("b", "{field: seats, op: gt, value: 2}", "priority: {group: g, rank: 1}\n")}
    assert problems_of(texts) == [
        "b.yaml:4: priority.rank: rank 1 of priority group 'g' is also used by 'a'; "
        "expected a distinct rank per segment in a group"]


def test_text_fields_keep_the_characters_as_written():
    segments = load_segment_texts({"a.yaml": """name: norway
description: no
owner: 2026-01-05
where:
  all:
    - {field: country, op: in, value: [NO, 'no', 02142, 1e3, 2026-01-05, yes, 1:30]}
    - {field: seats, op: lte, value: 1e3}
    - {field: is_trialing, op: eq, value: off}
    - {field: mrr, op: gt, value: 1_000.5}
"""}, columns=COLUMNS)
    segment = segments["norway"]
    assert (segment.description, segment.owner) == ("no", "2026-01-05")
    country, seats, trialing, mrr = segment.where.children
    assert country.value == ("NO", "no", "02142", "1e3", "2026-01-05", "yes", "1:30")
    assert (seats.value, trialing.value, mrr.value) == (1000.0, False, 1000.5)


def test_unknown_trend_key_and_mixed_modes():
    assert problems_of({"a.yaml": seg("a", "{trend: {measure: usage_count, windw: 7d, op: lt, change_pct: 1}}")}) == [
        "a.yaml:3: where.trend.windw: unknown key 'windw' in trend; expected one of measure, window, op, change_pct, "
        "period, dropping; did you mean 'window'?"]
    assert problems_of({"a.yaml": seg("a", "{trend: {measure: usage_count, period: 7d, dropping: 2, op: lt}}")}) == [
        "a.yaml:3: where.trend: a dropping trend takes exactly 'period' and 'dropping' (got ['op']); "
        "expected {measure, period: 7d, dropping: 3}"]


def test_live_columns_decide_the_types():
    live = {"account_id": "VARCHAR", "zip": "VARCHAR", "arr": "DECIMAL(18,2)"}
    segments = load_segment_texts({"a.yaml": seg("a", "{all: [{field: zip, op: eq, value: 02142}, "
                                                     "{field: arr, op: gt, value: 100}]}")}, columns=live)
    zip_leaf, arr_leaf = segments["a"].where.children
    assert isinstance(zip_leaf, Leaf) and zip_leaf.value == "02142" and arr_leaf.kind == "number"
    with pytest.raises(InputError) as info:
        load_segment_texts({"a.yaml": seg("a", "{field: seats, op: gt, value: 1}")}, columns=live)
    assert [p.message for p in info.value.problems] == ["unknown field 'seats'"]


def test_measures_file_is_not_a_segment_and_adds_its_columns(tmp_path):
    (tmp_path / "measures.yaml").write_text(
        "measures:\n  - {name: seat_utilisation, type: DOUBLE, description: d, expr: usage_30d / seats}\n")
    (tmp_path / "a.yaml").write_text(seg("a", "{field: seat_utilisation, op: gte, value: 0.8}"))
    segments = load_segments(tmp_path)
    assert segments.names == ["a"]
    assert segments.columns["seat_utilisation"] == "DOUBLE"


def test_destination_problems_join_the_report(tmp_path, monkeypatch):
    import segsync.sync.validate as sync_validate

    def fake_check(config, segment_set):
        return [Problem("segsync.yaml", f"{len(segment_set)} segment(s) checked", path="destinations.salesforce")]

    monkeypatch.setattr(sync_validate, "check_destinations", fake_check)
    (tmp_path / "a.yaml").write_text(seg("a", "{field: seats, op: gt, value: 1}", "destinations: {mailchimp: false}\n"))
    with pytest.raises(InputError) as info:
        load_segments(tmp_path, config=ProjectConfig(project_dir=tmp_path))
    assert [str(p) for p in info.value.problems] == ["segsync.yaml: destinations.salesforce: 1 segment(s) checked"]
    assert load_segments(tmp_path)["a"].destinations == {"mailchimp": False}


def test_every_real_segment_file_loads_compiles_and_matches_the_json_schema():
    segments = load_segments(SEGMENT_DEFS)
    assert {"churn_risk", "upsell_candidates", "near_usage_cap", "trial_activated", "beta_invite"} <= set(segments.names)
    compiled = compile_segments(segments, as_of=None)
    assert set(compiled) == set(segments.names)
    assert all("SELECT" in sql and "FROM accounts AS a" in sql for sql in compiled.values())
    schema = segment_json_schema(segments.columns)
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in sorted(SEGMENT_DEFS.glob("*.yaml")):
        if path.name != "measures.yaml":
            jsonschema.validate(json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str)), schema)


def test_json_schema_rejects_what_the_loader_rejects():
    schema = segment_json_schema(DECLARED_ACCOUNTS)
    validator = jsonschema.Draft202012Validator(schema)
    bad = [
        {"name": "a", "description": "d", "where": {"field": "helth_score", "op": "lt", "value": 1}},
        {"name": "a", "description": "d", "where": {"field": "renewal_date", "op": "within_next", "value": "90 days"}},
        {"name": "Bad Name", "description": "d", "where": {"in_segment": "x"}},
        {"name": "a", "description": "d", "where": {"all": []}},
        {"name": "a", "description": "d", "where": {"trend": {"measure": "usage_count", "window": "1mo", "op": "lt",
                                                              "change_pct": 1}}},
    ]
    assert [bool(list(validator.iter_errors(doc))) for doc in bad] == [True] * len(bad)
    good = {"name": "a", "description": "d", "where": {"not": [{"sql": "seats > 1"}, {"in_segment": "b"}]}}
    assert list(validator.iter_errors(good)) == []

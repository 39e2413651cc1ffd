"""Measures YAML: parsed as syntax trees; every problem reported with file, line, field and what was expected."""
from __future__ import annotations

import pytest

from segsync.errors import InputError
from segsync.measures import load_measures
from tests.sources.rawdata import REPO

BASE = {"usage_30d", "usage_prev_30d", "seats", "key_features_used_30d", "last_activity_at", "as_of_date", "avg_csat"}


def test_repository_measures_load_in_order():
    measures = load_measures(REPO / "segment_defs" / "measures.yaml", BASE)
    assert [m.name for m in measures.measures] == ["usage_change_pct", "days_since_last_activity", "adoption_score",
                                                   "seat_utilisation", "health_score"]
    assert measures.key_features[:2] == ["feature_1", "feature_2"]
    sql = measures.measures[2].select_sql()
    assert sql == 'CAST(ROUND(100.0 * LEAST(1.0, key_features_used_30d / 5), 1) AS DOUBLE) AS "adoption_score"'


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "measures.yaml"
    path.write_text("""params: {target: 3}
measures:
  - name: ok_one
    type: DOUBLE
    description: fine
    expr: usage_30d / target
  - name: sneaky
    type: DOUBLE
    description: aggregates are not row-level
    expr: sum(usage_30d)
  - name: typo
    type: DOUBLE
    description: unknown column
    expr: usage_31d + 1
  - name: ok_one
    type: TEXT
    description: ""
    expr: "1"
""")
    with pytest.raises(InputError) as err:
        load_measures(path, BASE)
    lines = [str(p) for p in err.value.problems]
    assert any(":7: measures[1].expr: only row-level expressions are allowed" in l for l in lines)
    assert any(":11: measures[2].expr: unknown column(s) ['usage_31d']" in l for l in lines)
    assert any("measures[3].name: name already used by a column or an earlier measure" in l for l in lines)
    assert len(lines) == 3

"""Salesforce Account segment fields: names from segsync.yaml, field specs for Setup, desired payloads in SQL."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from segsync import store
from segsync.errors import Problem
from segsync.sync.targets import RoutedSegment, routed_segments

DEFAULTS = {
    "object": "Account",
    "segments_field": "Segsync_Segments__c",
    "checkbox_field": "Segsync_{segment}__c",
    "entered_at_field": None,  # e.g. "Segsync_{segment}_Since__c"
    "picklist_field": None,  # e.g. "Segsync_Primary_Segment__c": the first segment (by name) an account is in
}
MAX_NAME_LENGTH = 40  # characters of a custom field's API name before `__c`
MAX_PICKLIST_VALUE = 255
MULTISELECT_LENGTH = 4099  # Salesforce's fixed multi-select field length (values joined by ';')
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__c$")


@dataclass(frozen=True)
class SegmentFields:
    """The Account fields and values one segment writes."""

    segment: str
    value: str  # its multi-select / picklist value
    checkbox: str | None
    entered_at: str | None


@dataclass(frozen=True)
class FieldLayout:
    """Every owned field of one Salesforce destination for one SegmentSet."""

    object: str
    segments_field: str | None
    picklist_field: str | None
    segments: tuple[SegmentFields, ...]

    @property
    def owned(self) -> frozenset[str]:
        names = {self.segments_field, self.picklist_field}
        for seg in self.segments:
            names.update((seg.checkbox, seg.entered_at))
        return frozenset(n for n in names if n)

    def checkbox_fields(self) -> frozenset[str]:
        return frozenset(s.checkbox for s in self.segments if s.checkbox)


def segment_fragment(segment: str) -> str:
    """`churn_risk` / `churn-risk` -> `Churn_Risk` (the part a `{segment}` template slot receives)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", segment) if p]
    return "_".join(p[:1].upper() + p[1:] for p in parts)


def api_name(template: str | None, segment: str) -> str | None:
    return template.format(segment=segment_fragment(segment)) if template else None


def field_layout(settings: Mapping[str, Any], segments: Any, destination: str) -> FieldLayout:
    """Owned fields from the destination's settings and each routed segment's overrides."""
    conf = {**DEFAULTS, **{k: v for k, v in settings.items() if k in DEFAULTS}}
    per_segment = []
    for routed in routed_segments(segments, destination):
        per_segment.append(_segment_fields(conf, routed))
    return FieldLayout(object=conf["object"], segments_field=conf["segments_field"],
                       picklist_field=conf["picklist_field"], segments=tuple(per_segment))


def _segment_fields(conf: Mapping[str, Any], routed: RoutedSegment) -> SegmentFields:
    over = routed.overrides
    checkbox = over["checkbox_field"] if "checkbox_field" in over else api_name(conf["checkbox_field"], routed.name)
    entered = over["entered_at_field"] if "entered_at_field" in over else api_name(conf["entered_at_field"],
                                                                                    routed.name)
    return SegmentFields(segment=routed.name, value=str(over.get("value", routed.name)), checkbox=checkbox or None,
                         entered_at=entered or None)


def layout_problems(layout: FieldLayout, segments: Any, destination: str) -> list[Problem]:
    """Invalid API names, fields claimed twice, picklist values that cannot fit."""
    files = {s.name: (str(getattr(s, "source_file", "segsync.yaml")), getattr(s, "line", None))
             for s in getattr(segments, "segments", [])}
    problems = []

    def where(segment: str | None) -> tuple[str, int | None]:
        return files.get(segment, ("segsync.yaml", None)) if segment else ("segsync.yaml", None)

    for name, owners in sorted(field_claims(layout, destination).items()):
        file, line = where(owners[0] if owners[0] in files else None)
        if not _API_NAME.match(name) or "__" in name[:-3]:
            problems.append(Problem(file, "not a valid Salesforce custom field API name", line=line,
                                    path=f"destinations.{destination}", value=name,
                                    expected="letters, digits and single underscores, starting with a letter, "
                                             "ending in __c"))
        elif len(name) - 3 > MAX_NAME_LENGTH:
            problems.append(Problem(file, f"Salesforce field name is {len(name) - 3} characters before __c",
                                    line=line, path=f"destinations.{destination}", value=name,
                                    expected=f"at most {MAX_NAME_LENGTH}; set a shorter checkbox_field / "
                                             "entered_at_field for this segment"))
    for seg in layout.segments:
        file, line = where(seg.segment)
        if ";" in seg.value or len(seg.value) > MAX_PICKLIST_VALUE or not seg.value.strip():
            problems.append(Problem(file, "segment value cannot be a Salesforce picklist value", line=line,
                                    path=f"destinations.{destination}.value", value=seg.value,
                                    expected=f"1-{MAX_PICKLIST_VALUE} characters without ';'"))
    values = sorted({s.value for s in layout.segments})
    joined = len(";".join(values))
    if layout.segments_field and joined > MULTISELECT_LENGTH:
        problems.append(Problem("segsync.yaml", f"all segment values joined are {joined} characters",
                                path=f"destinations.{destination}.segments_field", value=layout.segments_field,
                                expected=f"at most {MULTISELECT_LENGTH} (the multi-select field length); use "
                                         "shorter `value:` overrides"))
    return problems


def field_claims(layout: FieldLayout, destination: str) -> dict[str, list[str]]:
    """Field name -> who writes it: segment names, or the `destinations.<name>.<setting>` of a shared field."""
    claims: dict[str, list[str]] = {}
    for shared, key in ((layout.segments_field, "segments_field"), (layout.picklist_field, "picklist_field")):
        if shared:
            claims.setdefault(shared, []).append(f"destinations.{destination}.{key}")
    for seg in layout.segments:
        for name in (seg.checkbox, seg.entered_at):
            if name:
                claims.setdefault(name, []).append(seg.segment)
    return claims


def field_specs(layout: FieldLayout) -> list[dict]:
    """Custom field definitions an admin creates in Setup (items of the sandbox's `POST /__sandbox/fields` body)."""
    values = sorted({s.value for s in layout.segments})
    specs = []
    if layout.segments_field:
        specs.append({"name": layout.segments_field, "type": "multipicklist",
                      "label": "Segsync segments", "picklistValues": values, "restricted": True})
    if layout.picklist_field:
        specs.append({"name": layout.picklist_field, "type": "picklist",
                      "label": "Segsync primary segment", "picklistValues": values, "restricted": True})
    for seg in layout.segments:
        if seg.checkbox:
            specs.append({"name": seg.checkbox, "type": "boolean",
                          "label": f"Segment: {seg.segment}"[:40]})
        if seg.entered_at:
            specs.append({"name": seg.entered_at, "type": "date",
                          "label": f"Entered {seg.segment}"[:40]})
    return specs


def desired_relation(con: duckdb.DuckDBPyConnection, layout: FieldLayout) -> duckdb.DuckDBPyRelation:
    """One row per Salesforce Account id with at least one routed membership; payload has every owned field."""
    con.register("_sf_segments", pa.table({
        "segment": pa.array([s.segment for s in layout.segments], pa.string()),
        "value": pa.array([s.value for s in layout.segments], pa.string()),
        "checkbox": pa.array([s.checkbox for s in layout.segments], pa.string()),
        "entered_at": pa.array([s.entered_at for s in layout.segments], pa.string()),
    }))
    con.register("_sf_shared", pa.table({
        "segments_field": pa.array([layout.segments_field], pa.string()),
        "picklist_field": pa.array([layout.picklist_field], pa.string()),
    }))
    has_history = store.table_exists(con, "segment_history")
    entered_sql = """
        SELECT h.segment, h.account_id, strftime(min(h.entered_at)::DATE, '%Y-%m-%d') AS since
        FROM segment_history h WHERE h.exited_at IS NULL GROUP BY ALL
    """ if has_history else "SELECT NULL::VARCHAR AS segment, NULL::VARCHAR AS account_id, NULL::VARCHAR AS since"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _sf_desired AS
        WITH mem AS (
            SELECT a.salesforce_account_id AS record_key, a.account_id, m.segment
            FROM sync_members m JOIN accounts a ON a.account_id = m.account_id
            WHERE a.salesforce_account_id IS NOT NULL AND a.salesforce_account_id <> ''
        ),
        entered AS ({entered_sql}),
        recs AS (
            SELECT record_key, min(account_id) AS account_id, list(DISTINCT segment ORDER BY segment) AS segs
            FROM mem GROUP BY record_key
        ),
        since AS (
            SELECT mem.record_key, mem.segment, min(e.since) AS since
            FROM mem JOIN entered e ON e.segment = mem.segment AND e.account_id = mem.account_id GROUP BY ALL
        ),
        entries AS (
            SELECT r.record_key, f.checkbox AS k, to_json(list_contains(r.segs, f.segment)) AS v
            FROM recs r CROSS JOIN _sf_segments f WHERE f.checkbox IS NOT NULL
            UNION ALL
            SELECT r.record_key, f.entered_at, to_json(CASE WHEN list_contains(r.segs, f.segment) THEN s.since END)
            FROM recs r CROSS JOIN _sf_segments f
            LEFT JOIN since s ON s.record_key = r.record_key AND s.segment = f.segment
            WHERE f.entered_at IS NOT NULL
            UNION ALL
            SELECT r.record_key, sh.segments_field,
                   to_json(string_agg(DISTINCT f.value, ';' ORDER BY f.value)
                           FILTER (WHERE list_contains(r.segs, f.segment)))
            FROM recs r CROSS JOIN _sf_segments f CROSS JOIN _sf_shared sh
            WHERE sh.segments_field IS NOT NULL GROUP BY r.record_key, sh.segments_field
            UNION ALL
            SELECT r.record_key, sh.picklist_field,
                   to_json(min(f.value) FILTER (WHERE list_contains(r.segs, f.segment)))
            FROM recs r CROSS JOIN _sf_segments f CROSS JOIN _sf_shared sh
            WHERE sh.picklist_field IS NOT NULL GROUP BY r.record_key, sh.picklist_field
        )
        , payloads AS (SELECT record_key, to_json(map(list(k ORDER BY k), list(v ORDER BY k))) AS payload
                      FROM entries GROUP BY ALL)
        SELECT r.record_key, r.account_id, r.segs AS segments, p.payload
        FROM recs r JOIN payloads p USING (record_key)
    """)
    con.unregister("_sf_segments")
    con.unregister("_sf_shared")
    return con.sql("SELECT ? AS target, record_key, account_id, payload, segments FROM _sf_desired",
                   params=[layout.object])

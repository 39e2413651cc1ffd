"""Segments: the YAML model, loader and checks, sqlglot compiler, one-pass evaluation, history, explain, preview."""
from segsync.segments.compiler import Compiler, compile_segments
from segsync.segments.evaluate import evaluate, evaluate_into
from segsync.segments.explain import ExplainNode, ExplainResult, explain, render_explain
from segsync.segments.fixtures import run_fixture_tests
from segsync.segments.history import membership_changes
from segsync.segments.loader import load_segment_texts, load_segments, segment_files
from segsync.segments.model import SegmentDef, SegmentSet
from segsync.segments.plan import SegmentChange, load_segments_at, membership_diff
from segsync.segments.preview import PreviewResult, preview
from segsync.segments.schema import segment_json_schema

__all__ = [
    "Compiler", "ExplainNode", "ExplainResult", "PreviewResult", "SegmentChange", "SegmentDef", "SegmentSet",
    "compile_segments", "evaluate", "evaluate_into", "explain", "load_segment_texts", "load_segments",
    "load_segments_at", "membership_changes", "membership_diff", "preview", "render_explain", "run_fixture_tests",
    "segment_files", "segment_json_schema",
]

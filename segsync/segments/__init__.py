"""Segments: the YAML model, loader and checks, sqlglot compiler, one-pass evaluation, history and explain."""
from segsync.segments.loader import load_segment_texts, load_segments, segment_files
from segsync.segments.model import SegmentDef, SegmentSet

__all__ = ["SegmentDef", "SegmentSet", "load_segment_texts", "load_segments", "segment_files"]

"""Sync: plan changes against confirmed destination state, apply them in maximal batches, record acks."""
from segsync.sync.engine import SyncReport, apply_sync
from segsync.sync.planner import SyncPlan, plan_sync

__all__ = ["SyncPlan", "SyncReport", "apply_sync", "plan_sync"]

"""Sync: plan changes against confirmed destination state, apply them in maximal batches, record acks."""

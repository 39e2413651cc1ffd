"""Thin Prefect flows: they wire the plain functions in segsync.pipeline into observable runs."""

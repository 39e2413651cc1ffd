"""What every flow shares: loading the project file inside tasks, and tags for the Prefect UI."""
from __future__ import annotations

from datetime import datetime

from segsync.config import ProjectConfig, load_config
from segsync.envfile import load_sandbox_env


def project(config_path: str | None) -> ProjectConfig:
    """Load the project file in the worker (tasks receive paths, not objects)."""
    load_sandbox_env()
    return load_config(config_path)


def parse_as_of(as_of: str | datetime | None) -> datetime | None:
    if as_of is None or isinstance(as_of, datetime):
        return as_of
    from segsync.timeutil import parse_as_of as parse

    return parse(as_of)

"""What every flow shares: loading the project file inside tasks, and tags for the Prefect UI."""
from __future__ import annotations

from datetime import datetime

from segsync.config import ProjectConfig, load_config
from segsync.envfile import load_sandbox_env
from segsync.secrets import load_secret_blocks


def project(config_path: str | None) -> ProjectConfig:
    """Load the project file in the worker (tasks receive paths, not objects); credentials from env or Secret blocks."""
    load_sandbox_env()
    load_secret_blocks()
    return load_config(config_path)


def parse_as_of(as_of: str | datetime | None) -> datetime | None:
    if as_of is None or isinstance(as_of, datetime):
        return as_of
    from segsync.timeutil import parse_as_of as parse

    return parse(as_of)

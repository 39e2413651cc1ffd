"""Loads segsync.yaml: project paths, sources, identity, money, destinations, guardrails (${ENV} expanded)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from segsync.errors import InputError, Problem

DEFAULT_CONFIG = "segsync.yaml"
_ENV_REF = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


class Guardrails(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_remove_share: float = Field(0.2, ge=0, le=1, description="Stop when a run would remove more than this share of a list's/field's members")
    max_records: int = Field(100_000, ge=1, description="Stop when a run would touch more records than this in one destination")
    min_remove_floor: int = Field(10, ge=0, description="Removals at or below this count never trip the share guardrail")


class ProjectConfig(BaseModel):
    """The parsed project file. Sections other than guardrails are validated by the component that owns them."""

    model_config = ConfigDict(extra="forbid")
    project_dir: Path = Path(".")
    warehouse: str | None = None
    segments_dir: str = "segment_defs"
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    identity: dict[str, Any] = Field(default_factory=dict)
    money: dict[str, Any] = Field(default_factory=dict)
    measures: dict[str, Any] = Field(default_factory=dict)
    destinations: dict[str, dict[str, Any]] = Field(default_factory=dict)
    guardrails: Guardrails = Field(default_factory=Guardrails)

    def path(self, relative: str | os.PathLike) -> Path:
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.project_dir / candidate

    @property
    def segments_path(self) -> Path:
        return self.path(self.segments_dir)

    def source(self, name: str) -> dict[str, Any]:
        return self.sources.get(name) or {}

    def destination(self, name: str) -> dict[str, Any]:
        return self.destinations.get(name) or {}


def expand_env(value: Any, env: dict[str, str] | None = None) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string of a parsed YAML tree."""
    env = os.environ if env is None else env
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: env.get(m.group(1), m.group(2) if m.group(2) is not None else ""), value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


def find_config(start: Path | None = None) -> Path:
    explicit = os.environ.get("SEGSYNC_CONFIG")
    if explicit:
        return Path(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_CONFIG).exists():
            return folder / DEFAULT_CONFIG
    return here / DEFAULT_CONFIG


def load_config(path: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> ProjectConfig:
    config_path = Path(path) if path else find_config()
    if not config_path.exists():
        raise InputError([Problem(str(config_path), "project file not found",
                                  expected="a segsync.yaml in this folder or a parent (or $SEGSYNC_CONFIG)")])
    try:
        raw = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError([Problem(str(config_path), f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                  line=mark.line + 1 if mark else None)]) from exc
    if not isinstance(raw, dict):
        raise InputError([Problem(str(config_path), "the top level must be a mapping", value=type(raw).__name__)])
    raw = expand_env(raw, env)
    try:
        config = ProjectConfig(**raw, project_dir=config_path.parent.resolve())
    except ValidationError as exc:
        raise InputError([
            Problem(str(config_path), err["msg"], path=".".join(str(p) for p in err["loc"]), value=err.get("input"))
            for err in exc.errors()
        ]) from exc
    return config

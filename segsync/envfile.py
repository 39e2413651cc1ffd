"""Reads the sandbox's env file (.segsync/sandbox.env) into os.environ without overriding what is set."""
from __future__ import annotations

import os
from pathlib import Path

from segsync.redact import register_env_secrets

SANDBOX_ENV_FILE = Path(".segsync") / "sandbox.env"


def parse_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def load_sandbox_env(path: Path | None = None) -> dict[str, str]:
    """Load the env file if present; returns the variables it set. Secret values are registered for redaction."""
    path = path or Path(os.environ.get("SEGSYNC_SANDBOX_ENV", SANDBOX_ENV_FILE))
    register_env_secrets(dict(os.environ))
    if not path.exists():
        return {}
    loaded = {k: v for k, v in parse_env_file(path).items() if k not in os.environ}
    os.environ.update(loaded)
    register_env_secrets(loaded)
    return loaded

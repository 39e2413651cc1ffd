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


def write_env_file(env: dict[str, str], path: Path) -> None:
    """Write KEY=value lines readable by the owner only: the file holds tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    os.chmod(path, 0o600)
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))


def set_env_var(path: Path, name: str, value: str) -> None:
    """Add or replace one variable in the env file, keeping the others."""
    env = parse_env_file(path) if path.exists() else {}
    env[name] = value
    write_env_file(env, path)


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

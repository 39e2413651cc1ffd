"""One redactor for secrets: register values once, mask them in every log line, error and artifact."""
from __future__ import annotations

import logging
import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"
_SECRET_ENV_HINTS = ("TOKEN", "SECRET", "PASSWORD", "API_KEY", "SESSION")


def register_secret(value: str | None) -> None:
    """Remember a secret value so that redact() masks it everywhere from now on."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def register_env_secrets(env: dict[str, str]) -> None:
    for name, value in env.items():
        if any(hint in name.upper() for hint in _SECRET_ENV_HINTS):
            register_secret(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _BEARER.sub(r"\1" + MASK, text)


_BEARER = re.compile(r"((?:Bearer|OAuth|Basic)\s+)[A-Za-z0-9._~+/=!:-]{8,}")


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def install_log_redaction() -> None:
    """Attach the redacting filter to the root handlers (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())

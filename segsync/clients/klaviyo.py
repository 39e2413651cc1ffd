"""The official klaviyo-api client pointed at $KLAVIYO_BASE_URL with the private key $KLAVIYO_API_KEY."""
from __future__ import annotations

import os
from collections.abc import Mapping

from klaviyo_api import KlaviyoAPI

from segsync.errors import FatalError
from segsync.redact import register_secret


def make_klaviyo(env: Mapping[str, str] | None = None, *, max_retries: int = 0) -> KlaviyoAPI:
    """A KlaviyoAPI client. Retries default to 0 so segsync.retry stays the one retry/rate-limit policy."""
    env = os.environ if env is None else env
    base_url = (env.get("KLAVIYO_BASE_URL") or "").rstrip("/")
    api_key = env.get("KLAVIYO_API_KEY") or ""
    register_secret(api_key)
    if not base_url.startswith(("http://", "https://")):
        raise FatalError(f"KLAVIYO_BASE_URL must be an http(s) URL such as https://a.klaviyo.com; "
                         f"got {base_url or '(unset)'!r}")
    if not api_key.startswith("pk_"):
        raise FatalError("KLAVIYO_API_KEY must be a private API key (it starts with 'pk_'); the value set does not")
    return KlaviyoAPI(api_key=api_key, test_host=base_url, max_retries=max_retries, max_delay=1)

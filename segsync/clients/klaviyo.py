"""The official klaviyo-api client pointed at $KLAVIYO_BASE_URL with the private key $KLAVIYO_API_KEY."""
from __future__ import annotations

import os
from collections.abc import Mapping

import openapi_client
from klaviyo_api import KlaviyoAPI
from urllib3.util.retry import Retry

from segsync.errors import FatalError
from segsync.redact import register_secret


def make_klaviyo(env: Mapping[str, str] | None = None, *, max_retries: int = 0) -> KlaviyoAPI:
    """A KlaviyoAPI client. By default neither the SDK nor urllib3 retries (urllib3 would otherwise replay 429s
    that carry Retry-After three times), so segsync.retry stays the one retry/rate-limit policy."""
    env = os.environ if env is None else env
    base_url = (env.get("KLAVIYO_BASE_URL") or "").rstrip("/")
    api_key = env.get("KLAVIYO_API_KEY") or ""
    register_secret(api_key)
    if not base_url.startswith(("http://", "https://")):
        raise FatalError(f"KLAVIYO_BASE_URL must be an http(s) URL such as https://a.klaviyo.com; "
                         f"got {base_url or '(unset)'!r}")
    if not api_key.startswith("pk_"):
        raise FatalError("KLAVIYO_API_KEY must be a private API key (it starts with 'pk_'); the value set does not")
    client = KlaviyoAPI(api_key=api_key, test_host=base_url, max_retries=max_retries, max_delay=1)
    if max_retries == 0:
        client.configuration.retries = Retry(total=0, respect_retry_after_header=False, raise_on_status=False)
        client.api_client = openapi_client.ApiClient(client.configuration, options=client.options)
        client.api_client.default_headers["revision"] = client._REVISION
    return client

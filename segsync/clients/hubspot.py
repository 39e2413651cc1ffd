"""The official hubspot-api-client pointed at $HUBSPOT_BASE_URL with $HUBSPOT_ACCESS_TOKEN (registered as a secret)."""
from __future__ import annotations

import os
from collections.abc import Mapping

import hubspot
from urllib3.util.retry import Retry

from segsync.errors import FatalError
from segsync.redact import register_secret

DEFAULT_BASE_URL = "https://api.hubapi.com"


def make_hubspot(env: Mapping[str, str] | None = None) -> hubspot.HubSpot:
    """A HubSpot client for the configured account; the token is read and registered for redaction only here.

    HUBSPOT_BASE_URL (default https://api.hubapi.com) overrides every API's configuration host, so the same
    client talks to the sandbox. urllib3's own retries are off (by default it silently replays 429/503 answers
    that carry Retry-After); retrying is segsync.retry's job.
    """
    source = os.environ if env is None else env
    token = (source.get("HUBSPOT_ACCESS_TOKEN") or "").strip()
    if not token:
        raise FatalError("HUBSPOT_ACCESS_TOKEN is not set; expected a private app access token "
                         "(or run `segsync sandbox up` and load .segsync/sandbox.env)")
    register_secret(token)
    base_url = (source.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise FatalError(f"HUBSPOT_BASE_URL={base_url!r} is not an http(s) URL")
    no_retries = Retry(total=0, connect=0, read=0, status=0, redirect=0, respect_retry_after_header=False,
                       raise_on_status=False)
    return hubspot.HubSpot(access_token=token, host=base_url, retry=no_retries)

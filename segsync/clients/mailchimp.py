"""The official mailchimp-marketing client pointed at $MAILCHIMP_BASE_URL with $MAILCHIMP_API_KEY."""
from __future__ import annotations

import os
from collections.abc import Mapping

import mailchimp_marketing

from segsync.errors import FatalError
from segsync.redact import register_secret

DEFAULT_TIMEOUT_SECONDS = 60


def make_mailchimp(env: Mapping[str, str] | None = None, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
                   ) -> mailchimp_marketing.Client:
    """A Marketing API client; the key (`<key>-<dc>`) is read and registered as a secret here only."""
    env = os.environ if env is None else env
    base_url = (env.get("MAILCHIMP_BASE_URL") or "").rstrip("/")
    api_key = env.get("MAILCHIMP_API_KEY") or ""
    register_secret(api_key)
    if not base_url.endswith("/3.0"):
        raise FatalError(f"MAILCHIMP_BASE_URL must be the API root ending in /3.0 (e.g. "
                         f"https://us1.api.mailchimp.com/3.0); got {base_url or '(unset)'!r}")
    key, _, datacenter = api_key.rpartition("-")
    if not key or not datacenter:
        raise FatalError("MAILCHIMP_API_KEY must look like <key>-<datacenter> (e.g. ...-us1); "
                         "the value set has no datacenter suffix")
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": api_key, "server": datacenter, "timeout": timeout})
    client.api_client.host = base_url
    return client

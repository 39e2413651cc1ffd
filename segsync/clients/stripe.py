"""The official stripe-python StripeClient pointed at $STRIPE_API_BASE with $STRIPE_API_KEY and a pinned API version."""
from __future__ import annotations

import os
from collections.abc import Mapping

import stripe

from segsync.errors import FatalError
from segsync.redact import register_secret

API_VERSION = "2026-10-28.endive"  # the version stripe-python 16.1 is generated for; pinned explicitly
DEFAULT_API_BASE = "https://api.stripe.com"


def make_stripe(env: Mapping[str, str] | None = None, *, max_network_retries: int = 0) -> stripe.StripeClient:
    """A StripeClient for the configured account; the key is read and registered for redaction only here.

    STRIPE_API_BASE (default https://api.stripe.com) replaces the API host, so the same client talks to the
    sandbox. Retries are left to segsync.retry (max_network_retries=0) so one policy decides.
    """
    source = os.environ if env is None else env
    api_key = (source.get("STRIPE_API_KEY") or "").strip()
    if not api_key:
        raise FatalError("STRIPE_API_KEY is not set; expected a secret key such as sk_test_... "
                         "(or run `segsync sandbox up` and load .segsync/sandbox.env)")
    register_secret(api_key)
    base = (source.get("STRIPE_API_BASE") or DEFAULT_API_BASE).strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise FatalError(f"STRIPE_API_BASE={base!r} is not an http(s) URL")
    return stripe.StripeClient(api_key, stripe_version=API_VERSION, base_addresses={"api": base},
                               max_network_retries=max_network_retries)

"""Builds the simple-salesforce client from SALESFORCE_* env vars, with a session that trusts only our CA bundle."""
from __future__ import annotations

import os
from collections.abc import Mapping

import requests
from simple_salesforce import Salesforce

from segsync.errors import InputError, Problem
from segsync.redact import register_secret

DEFAULT_API_VERSION = "62.0"


def salesforce_session(ca_bundle: str | None) -> requests.Session:
    """A requests Session that ignores REQUESTS_CA_BUNDLE/proxies from the environment and verifies with ca_bundle."""
    session = requests.Session()
    session.trust_env = False  # otherwise REQUESTS_CA_BUNDLE overrides session.verify
    session.verify = ca_bundle or True
    return session


def make_salesforce(env: Mapping[str, str] | None = None) -> Salesforce:
    """A simple_salesforce.Salesforce for SALESFORCE_INSTANCE_URL with the SALESFORCE_ACCESS_TOKEN session."""
    env = os.environ if env is None else env
    problems = []
    instance_url = (env.get("SALESFORCE_INSTANCE_URL") or "").rstrip("/")
    token = env.get("SALESFORCE_ACCESS_TOKEN") or ""
    if not instance_url.startswith("https://"):
        problems.append(Problem("environment", "SALESFORCE_INSTANCE_URL is missing or not https",
                                path="SALESFORCE_INSTANCE_URL", value=instance_url or None,
                                expected="https://<instance> (run `segsync sandbox up` for the local one)"))
    if not token:
        problems.append(Problem("environment", "SALESFORCE_ACCESS_TOKEN is not set", path="SALESFORCE_ACCESS_TOKEN",
                                expected="an OAuth access token / session id"))
    ca_bundle = env.get("SALESFORCE_CA_BUNDLE") or None
    if ca_bundle and not os.path.exists(ca_bundle):
        problems.append(Problem("environment", "SALESFORCE_CA_BUNDLE names a file that does not exist",
                                path="SALESFORCE_CA_BUNDLE", value=ca_bundle, expected="a PEM CA bundle file"))
    version = (env.get("SALESFORCE_API_VERSION") or DEFAULT_API_VERSION).lstrip("v")
    if problems:
        raise InputError(problems)
    register_secret(token)
    return Salesforce(instance_url=instance_url, session_id=token, version=version,
                      session=salesforce_session(ca_bundle))

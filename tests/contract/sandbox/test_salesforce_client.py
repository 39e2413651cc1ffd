"""make_salesforce: env-only configuration, a session that trusts only the sandbox CA, the token redacted."""
from __future__ import annotations

import pytest

from segsync.clients.salesforce import make_salesforce
from segsync.errors import InputError
from segsync.redact import redact
from tests.contract.sandbox.salesforce_helpers import client, close_clients, seed  # noqa: F401


def test_client_session_ignores_the_environment_and_verifies_with_the_bundle(sf_sandbox, monkeypatch, tmp_path):
    bogus = tmp_path / "other-ca.pem"
    bogus.write_text("not a certificate")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    seed(sf_sandbox, 2)
    sf = client(sf_sandbox)
    assert sf.session.trust_env is False
    assert sf.session.verify == sf_sandbox.env()["SALESFORCE_CA_BUNDLE"]
    assert sf.base_url == f"{sf_sandbox.env()['SALESFORCE_INSTANCE_URL']}/services/data/v62.0/"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2


def test_token_is_registered_with_the_redactor(sf_sandbox):
    token = sf_sandbox.env()["SALESFORCE_ACCESS_TOKEN"]
    client(sf_sandbox)
    assert redact(f"calling with {token}") == "calling with ***"


def test_version_with_a_v_prefix_is_accepted(sf_sandbox):
    sf = client(sf_sandbox, SALESFORCE_API_VERSION="v58.0")
    assert sf.sf_version == "58.0"
    assert sf.limits()["DailyApiRequests"]["Max"] == 100_000


def test_missing_settings_are_reported_together():
    with pytest.raises(InputError) as caught:
        make_salesforce({"SALESFORCE_INSTANCE_URL": "http://insecure.example.com",
                         "SALESFORCE_CA_BUNDLE": "/nonexistent/ca.pem"})
    assert [p.path for p in caught.value.problems] == ["SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN",
                                                      "SALESFORCE_CA_BUNDLE"]
    assert "http://insecure.example.com" in str(caught.value)

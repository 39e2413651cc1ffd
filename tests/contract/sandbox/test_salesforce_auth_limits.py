"""Salesforce emulator: Bearer sessions, the daily API allowance, error shapes and the request log."""
from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (SalesforceExpiredSession, SalesforceGeneralError,
                                          SalesforceRefusedRequest, SalesforceResourceNotFound)

from tests.contract.sandbox.salesforce_helpers import admin, client, close_clients, raw, seed  # noqa: F401


def test_env_names_an_https_instance_a_session_and_an_api_version(sf_sandbox):
    env = sf_sandbox.env()
    assert env["SALESFORCE_INSTANCE_URL"].startswith("https://127.0.0.1:")
    assert env["SALESFORCE_API_VERSION"] == "62.0"
    assert env["SALESFORCE_ACCESS_TOKEN"].startswith("00D")
    assert env["SALESFORCE_CA_BUNDLE"].endswith("ca.pem")


def test_a_wrong_session_id_gets_401_invalid_session_id(sf_sandbox):
    sf = client(sf_sandbox, SALESFORCE_ACCESS_TOKEN="00Dnot-the-session")
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 401
    assert caught.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_missing_authorization_header_gets_401(sf_sandbox):
    env = sf_sandbox.env()
    response = raw(sf_sandbox, "GET", "/services/data/v62.0/limits", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert env["SALESFORCE_ACCESS_TOKEN"] not in response.text


def test_forced_expiry_and_a_rotated_session(sf_sandbox):
    sf = client(sf_sandbox)
    admin(sf_sandbox, "POST", "/__sandbox/config", {"session_expired": True})
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()
    admin(sf_sandbox, "POST", "/__sandbox/config", {"session_expired": False, "session_id": "00Dnew!session-2"})
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()
    assert sf_sandbox.env()["SALESFORCE_ACCESS_TOKEN"] == "00Dnew!session-2"
    assert client(sf_sandbox).limits()["DailyApiRequests"]["Max"] == 100_000


def test_one_off_injected_invalid_session_then_success(sf_sandbox):
    seed(sf_sandbox, 3)
    admin(sf_sandbox, "POST", "/__sandbox/faults", {"path": "/query", "status": 401, "times": 1})
    sf = client(sf_sandbox)
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 3


def test_injected_503_and_request_limit_carry_salesforce_shapes_and_retry_after(sf_sandbox):
    admin(sf_sandbox, "POST", "/__sandbox/faults", {"path": "/limits", "status": 503, "retry_after": 7, "times": 1})
    response = raw(sf_sandbox, "GET", "/services/data/v62.0/limits")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.json() == [{"message": "Server temporarily unavailable, please try again later",
                                "errorCode": "SERVER_UNAVAILABLE"}]
    admin(sf_sandbox, "POST", "/__sandbox/faults", {"path": "/limits", "status": 403, "times": 1})
    with pytest.raises(SalesforceRefusedRequest) as caught:
        client(sf_sandbox).limits()
    assert caught.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_limit_info_header_counts_every_call_and_limits_reports_the_allowance(sf_sandbox):
    seed(sf_sandbox, 2)
    admin(sf_sandbox, "POST", "/__sandbox/config", {"daily_api_limit": 50})
    sf = client(sf_sandbox)
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == 1 and sf.api_usage["api-usage"].total == 50
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 50, "Remaining": 48}
    response = raw(sf_sandbox, "GET", "/services/data/v62.0/sobjects/Account/describe")
    assert response.headers["Sforce-Limit-Info"] == "api-usage=3/50"


def test_spent_allowance_refuses_with_request_limit_exceeded(sf_sandbox):
    admin(sf_sandbox, "POST", "/__sandbox/config", {"daily_api_limit": 10, "api_requests_used": 9})
    sf = client(sf_sandbox)
    sf.limits()
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 403
    assert caught.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert raw(sf_sandbox, "GET", "/services/data/v62.0/limits").headers["Sforce-Limit-Info"] == "api-usage=10/10"


def test_any_api_version_path_works_and_a_bad_one_is_not_found(sf_sandbox):
    assert raw(sf_sandbox, "GET", "/services/data/v58.0/limits").status_code == 200
    response = raw(sf_sandbox, "GET", "/services/data/latest/limits")
    assert response.status_code == 404
    assert response.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    with pytest.raises(SalesforceResourceNotFound):
        client(sf_sandbox).restful("sobjects/Opportunity/describe")


def test_injected_500_is_unknown_exception(sf_sandbox):
    admin(sf_sandbox, "POST", "/__sandbox/faults", {"path": "/limits", "status": 500, "times": 1})
    with pytest.raises(SalesforceGeneralError) as caught:
        client(sf_sandbox).limits()
    assert caught.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"


def test_request_log_records_how_many_records_each_call_carried(sf_sandbox):
    seed(sf_sandbox, 5)
    sf = client(sf_sandbox)
    sf.query("SELECT Id FROM Account")
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Account LIMIT 3")["records"]]
    sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Id": i, "Website": "x.example.com"} for i in ids]})
    log = admin(sf_sandbox, "GET", "/__sandbox/requests").json()
    assert [(e["method"], e["path"], e["status"], e["records"]) for e in log] == [
        ("GET", "/services/data/v62.0/query/", 200, 5),
        ("GET", "/services/data/v62.0/query/", 200, 3),
        ("PATCH", "/services/data/v62.0/composite/sobjects", 200, 3),
    ]


def test_unknown_paths_methods_and_bad_parameters_use_the_error_array(sf_sandbox):
    missing = raw(sf_sandbox, "GET", "/services/data/v62.0/nothing/here")
    assert missing.status_code == 404
    assert missing.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    wrong_method = raw(sf_sandbox, "PUT", "/services/data/v62.0/limits")
    assert wrong_method.status_code == 405 and wrong_method.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
    bad = raw(sf_sandbox, "GET", "/services/data/v62.0/jobs/query/750000000000000AAA/results",
              params={"maxRecords": "many"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_INPUT"

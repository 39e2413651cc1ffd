"""HubSpot emulator platform: rate limits, faults, request log, admin seed/state, seed speed, client factory."""
from __future__ import annotations

import time

import httpx
import pyarrow.compute as pc
import pytest
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    SimplePublicObjectBatchInput,
)
from hubspot.crm.companies.exceptions import ServiceException, UnauthorizedException

from sandbox.hubspot import DEFAULT_TOKEN
from segsync.clients.hubspot import make_hubspot
from segsync.errors import FatalError
from segsync.redact import redact
from tests.contract.sandbox.hubspot_helpers import body_of, client, configure, dataset, emulator, raw, seed


def admin(sandbox, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, sandbox.env()["HUBSPOT_BASE_URL"] + path, timeout=60, **kwargs)


def header(exc: ApiException, name: str) -> str | None:
    return {k.lower(): v for k, v in exc.headers.items()}.get(name.lower())


def test_burst_limit_is_a_rolling_window_with_documented_429(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 0)
    configure(hubspot_sandbox, rate_limit_per_10s=3, rate_limit_window_ms=600)
    api = client(hubspot_sandbox).crm.companies.basic_api
    remaining = []
    for _ in range(3):
        response = raw(hubspot_sandbox, "GET", "/crm/v3/objects/companies")
        assert response.status_code == 200
        remaining.append(response.headers["X-HubSpot-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    assert response.headers["X-HubSpot-RateLimit-Max"] == "3"
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "600"
    with pytest.raises(ApiException) as info:
        api.get_page()
    body = body_of(info.value)
    assert type(info.value) is ApiException and info.value.status == 429
    assert (body["status"], body["errorType"], body["policyName"], body["message"]) == (
        "error", "RATE_LIMIT", "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
    assert len(body["correlationId"]) == 36
    assert header(info.value, "X-HubSpot-RateLimit-Remaining") == "0"
    time.sleep(0.65)
    assert api.get_page().results[0].id == "1000"


def test_default_limits_are_the_private_app_ones(hubspot_sandbox):
    response = raw(hubspot_sandbox, "GET", "/crm/v3/properties/companies/groups")
    assert response.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert response.headers["X-HubSpot-RateLimit-Daily"] == "650000"
    assert response.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "649999"


def test_settings_are_checked(hubspot_sandbox):
    with pytest.raises(ValueError, match="unknown HubSpot sandbox setting"):
        configure(hubspot_sandbox, rate_limit=5)
    with pytest.raises(ValueError, match="must be a positive integer"):
        configure(hubspot_sandbox, rate_limit_per_10s=0)
    assert emulator(hubspot_sandbox).setting("rate_limit_per_10s") == 190


def test_daily_allowance(hubspot_sandbox):
    configure(hubspot_sandbox, daily_limit=2)
    assert [raw(hubspot_sandbox, "GET", "/crm/v3/lists/").status_code for _ in range(3)] == [200, 200, 429]
    spent = raw(hubspot_sandbox, "GET", "/crm/v3/lists/")
    assert spent.json()["policyName"] == "DAILY"
    assert spent.json()["message"] == "You have reached your daily limit."
    assert spent.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_injected_faults_use_hubspot_error_shapes(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 0)
    api = client(hubspot_sandbox).crm.companies.basic_api
    admin(hubspot_sandbox, "POST", "/__sandbox/faults",
          json={"path": "^/crm/v3/objects/companies$", "status": 429, "retry_after": 2, "times": 1})
    with pytest.raises(ApiException) as info:
        api.get_page()
    assert info.value.status == 429 and body_of(info.value)["errorType"] == "RATE_LIMIT"
    assert header(info.value, "Retry-After") == "2"
    assert api.get_page().results[0].id == "1000"
    admin(hubspot_sandbox, "POST", "/__sandbox/faults",
          json={"path": "^/crm/v3/objects/companies$", "status": 503, "times": 1})
    with pytest.raises(ServiceException) as info:
        api.get_page()
    assert info.value.status == 503 and body_of(info.value)["category"] == "INTERNAL_ERROR"
    admin(hubspot_sandbox, "POST", "/__sandbox/faults",
          json={"path": "^/crm/v3/objects/companies$", "status": 401, "times": 1})
    with pytest.raises(UnauthorizedException) as info:
        api.get_page()
    assert body_of(info.value)["category"] == "INVALID_AUTHENTICATION"
    assert api.get_page().results[0].id == "1000"


def test_record_faults_fail_only_that_record_with_207(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 0)
    batch = client(hubspot_sandbox).crm.companies.batch_api
    admin(hubspot_sandbox, "POST", "/__sandbox/faults",
          json={"record_ids": ["1001"], "code": "INTERNAL_ERROR", "message": "Record 1001 is locked", "times": 1})
    update = BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id="1000", properties={"country": "FR"}),
        SimplePublicObjectBatchInput(id="1001", properties={"country": "FR"})])
    first = batch.update(update)
    assert [r.id for r in first.results] == ["1000"]
    assert [(e.category, e.message, e.context) for e in first.errors] == [
        ("INTERNAL_ERROR", "Record 1001 is locked", {"ids": ["1001"]})]
    assert emulator(hubspot_sandbox).store("companies").records["1001"].props["country"] == "UK"
    second = batch.update(update)
    assert sorted(r.id for r in second.results) == ["1000", "1001"]
    assert type(second).__name__ == "BatchResponseSimplePublicObject"


def test_request_log_counts_records_per_call(hubspot_sandbox):
    seed(hubspot_sandbox, 3, 0)
    crm = client(hubspot_sandbox).crm
    crm.companies.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id=str(1000 + i), properties={"country": "FR"}) for i in range(3)]))
    list_id = raw(hubspot_sandbox, "POST", "/crm/v3/lists/",
                  json={"name": "log", "objectTypeId": "0-2", "processingType": "MANUAL"}).json()["list"]["listId"]
    crm.lists.memberships_api.add(list_id, ["1000", "1001"])
    entries = admin(hubspot_sandbox, "GET", "/__sandbox/requests").json()
    assert [(e["method"], e["path"], e["status"], e["records"]) for e in entries] == [
        ("POST", "/crm/v3/objects/companies/batch/update", 200, 3),
        ("POST", "/crm/v3/lists/", 200, None),
        ("PUT", f"/crm/v3/lists/{list_id}/memberships/add", 200, 2)]


def test_admin_seed_state_and_reset(hubspot_sandbox):
    from sandbox.datasets import load_dataset

    data = load_dataset({"dataset": "ravenstack"})
    seeded = admin(hubspot_sandbox, "POST", "/__sandbox/seed", json={"dataset": "ravenstack"}).json()["seeded"]
    companies = data.accounts.filter(pc.is_valid(data.accounts.column("hubspot_id"))).num_rows
    with_id = data.contacts.filter(pc.is_valid(data.contacts.column("hubspot_id")))
    distinct_emails = pc.count_distinct(pc.utf8_lower(with_id.column("email"))).as_py()
    assert seeded["companies"] == companies
    assert seeded["contacts"] == distinct_emails
    assert seeded["skipped_duplicate_emails"] == with_id.num_rows - distinct_emails
    state = admin(hubspot_sandbox, "GET", "/__sandbox/state").json()
    assert state["objects"]["companies"] == {"active": companies, "archived": 0, "merged_ids": 0}
    assert state["custom_properties"]["companies"] == ["product_account_id"]
    first = data.accounts.slice(0, 1).to_pylist()[0]
    company = client(hubspot_sandbox).crm.companies.basic_api.get_by_id(
        first["account_id"], id_property="product_account_id", properties=["name", "industry"])
    assert (company.id, company.properties["name"], company.properties["industry"]) == (
        first["hubspot_id"], first["name"], first["industry"])
    admin(hubspot_sandbox, "POST", "/__sandbox/reset")
    assert admin(hubspot_sandbox, "GET", "/__sandbox/state").json()["objects"]["companies"]["active"] == 0


def test_seeding_100k_companies_and_350k_contacts_is_fast(hubspot_sandbox):
    data = dataset(100_000, 4)
    data.contacts = data.contacts.slice(0, 350_000)
    target = emulator(hubspot_sandbox)
    started = time.process_time()  # CPU seconds: stable on a shared, loaded machine (wall time is not)
    with target.lock:
        counts = target.seed(data)
    cpu = time.process_time() - started
    assert counts == {"companies": 100_000, "contacts": 350_000, "associations": 350_000,
                      "skipped_duplicate_companies": 0, "skipped_duplicate_emails": 0}
    assert cpu < 10, f"seeding took {cpu:.1f} CPU seconds"
    page = client(hubspot_sandbox).crm.companies.basic_api.get_page(limit=100, after="100950")
    assert [r.id for r in page.results][:2] == ["100950", "100951"]


def test_client_factory_reads_env_and_registers_the_token(hubspot_sandbox):
    env = hubspot_sandbox.env()
    assert env["HUBSPOT_ACCESS_TOKEN"] == DEFAULT_TOKEN
    hub = make_hubspot(env)
    assert hub.crm.companies.basic_api.api_client.configuration.host == env["HUBSPOT_BASE_URL"]
    assert redact(f"token={DEFAULT_TOKEN}") == "token=***"
    with pytest.raises(FatalError, match="HUBSPOT_ACCESS_TOKEN is not set"):
        make_hubspot({"HUBSPOT_BASE_URL": env["HUBSPOT_BASE_URL"]})
    with pytest.raises(FatalError, match="is not an http"):
        make_hubspot({"HUBSPOT_BASE_URL": "ftp://x", "HUBSPOT_ACCESS_TOKEN": "pat-na1-abc"})
    configure(hubspot_sandbox, access_token="pat-na1-rotated-token")
    assert hubspot_sandbox.env()["HUBSPOT_ACCESS_TOKEN"] == "pat-na1-rotated-token"
    with pytest.raises(UnauthorizedException):
        hub.crm.companies.basic_api.get_page()
    assert make_hubspot(hubspot_sandbox.env()).crm.companies.basic_api.get_page().results == []

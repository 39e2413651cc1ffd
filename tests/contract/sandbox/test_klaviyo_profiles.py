"""Klaviyo emulator through klaviyo-api: profiles, duplicates, bulk import jobs, seeding (spec-validated)."""
from __future__ import annotations

import time

import pytest
from openapi_client.exceptions import ApiException

from tests.contract.sandbox.klaviyo_helpers import (client, errors_of, klaviyo, list_body,  # noqa: F401 (fixture)
                                                    profile_body)
from tests.contract.sandbox.mailchimp_helpers import contacts_dataset


def import_body(profiles: list[dict], list_id: str | None = None) -> dict:
    data = {"type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [{"type": "profile", "attributes": p} for p in profiles]}}}
    if list_id is not None:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
    return {"data": data}


def test_create_profile_then_find_it_by_email_case_insensitively(klaviyo):
    api = client(klaviyo)
    created = api.Profiles.create_profile(profile_body("Dana@Acme.example.com", first_name="Dana",
                                                       properties={"plan": "pro"}))
    assert created.data.id.startswith("01") and len(created.data.id) == 26
    found = api.Profiles.get_profiles(filter='equals(email,"dana@acme.example.com")')
    assert [p.id for p in found.data] == [created.data.id]
    assert found.data[0].attributes.first_name == "Dana"
    assert found.data[0].attributes.properties == {"plan": "pro"}
    assert api.Profiles.get_profile(created.data.id).data.attributes.email == "Dana@Acme.example.com"


def test_duplicate_profile_is_409_with_the_existing_id(klaviyo):
    api = client(klaviyo)
    existing = api.Profiles.create_profile(profile_body("dup@acme.example.com")).data.id
    with pytest.raises(ApiException) as caught:
        api.Profiles.create_profile(profile_body("DUP@acme.example.com", last_name="Again"))
    assert caught.value.status == 409
    error = errors_of(caught.value)[0]
    assert (error["code"], error["title"]) == ("duplicate_profile", "Conflict.")
    assert error["meta"] == {"duplicate_profile_id": existing}
    assert api.Profiles.get_profile(existing).data.attributes.last_name is None


def test_profile_needs_an_identifier_and_a_valid_email(klaviyo):
    api = client(klaviyo)
    with pytest.raises(ApiException) as caught:
        api.Profiles.create_profile({"data": {"type": "profile", "attributes": {"first_name": "Nobody"}}})
    assert caught.value.status == 400 and "identifier" in errors_of(caught.value)[0]["detail"]
    with pytest.raises(ApiException) as caught:
        api.Profiles.create_profile(profile_body("not-an-email"))
    assert errors_of(caught.value)[0]["source"] == {"pointer": "/data/attributes/email"}


def test_profiles_filter_any_email_and_page(klaviyo):
    api = client(klaviyo)
    ids = [api.Profiles.create_profile(profile_body(f"f{i}@acme.example.com")).data.id for i in range(5)]
    some = api.Profiles.get_profiles(filter='any(email,["f1@acme.example.com","f3@acme.example.com",'
                                            '"missing@acme.example.com"])')
    assert [p.id for p in some.data] == [ids[1], ids[3]]
    first = api.Profiles.get_profiles(page_size=2)
    second = api.Profiles.get_profiles(page_size=2, page_cursor=first.links.next)
    assert [p.id for p in first.data + second.data] == ids[:4]
    with pytest.raises(ApiException) as caught:
        api.Profiles.get_profiles(filter='equals(title,"x")')
    assert caught.value.status == 400


def test_bulk_import_job_creates_updates_adds_to_list_and_reports_errors(klaviyo):
    api = client(klaviyo)
    list_id = api.Lists.create_list(list_body("segsync: upsell")).data.id
    existing = api.Profiles.create_profile(profile_body("old@acme.example.com", first_name="Old")).data.id
    job = api.Profiles.bulk_import_profiles(import_body(
        [{"email": "new1@acme.example.com"}, {"email": "OLD@acme.example.com", "first_name": "Renamed"},
         {"email": "broken"}, {"email": "new2@acme.example.com", "last_name": "Two"}], list_id))
    assert job.data.attributes.status == "queued" and job.data.attributes.total_count == 4
    assert api.Lists.get_profile_ids_for_list(list_id).data == []  # nothing applied before the job runs

    done = api.Profiles.get_bulk_import_profiles_job(job.data.id)
    attributes = done.data.attributes
    assert (attributes.status, attributes.completed_count, attributes.failed_count) == ("complete", 4, 1)
    errors = api.Profiles.get_errors_for_bulk_import_profiles_job(job.data.id).data
    assert [(e.attributes.code, e.attributes.source.pointer) for e in errors] == [
        ("invalid", "/data/attributes/profiles/data/2/attributes/email")]
    members = {p.id for p in api.Lists.get_profile_ids_for_list(list_id).data}
    assert len(members) == 3 and existing in members
    assert api.Profiles.get_profile(existing).data.attributes.first_name == "Renamed"
    imported = api.Profiles.get_profile_ids_for_bulk_import_profiles_job(job.data.id).data
    assert {p.id for p in imported} == members


def test_bulk_import_can_take_several_polls(klaviyo):
    klaviyo["klaviyo"].configure({"bulk_import_polls": 3})
    api = client(klaviyo)
    job = api.Profiles.bulk_import_profiles(import_body([{"email": "slow@acme.example.com"}]))
    states = [api.Profiles.get_bulk_import_profiles_job(job.data.id).data.attributes.status for _ in range(3)]
    assert states == ["processing", "processing", "complete"]


def test_bulk_import_limits_and_unknown_list(klaviyo):
    api = client(klaviyo)
    with pytest.raises(ApiException) as caught:
        api.Profiles.bulk_import_profiles(import_body([{"email": f"x{i}@acme.example.com"} for i in range(10_001)]))
    assert caught.value.status == 400 and "10000" in errors_of(caught.value)[0]["detail"]
    with pytest.raises(ApiException) as caught:
        api.Profiles.bulk_import_profiles(import_body([{"email": "a@acme.example.com"}], "NoList"))
    assert errors_of(caught.value)[0]["source"] == {"pointer": "/data/relationships/lists/data/0"}
    with pytest.raises(ApiException) as caught:
        api.Profiles.get_bulk_import_profiles_job("01NOSUCHJOB")
    assert caught.value.status == 404


def test_bulk_import_of_ten_thousand_profiles_is_one_call(klaviyo):
    api = client(klaviyo)
    list_id = api.Lists.create_list(list_body("big")).data.id
    job = api.Profiles.bulk_import_profiles(
        import_body([{"email": f"bulk{i}@acme.example.com"} for i in range(10_000)], list_id))
    assert api.Profiles.get_bulk_import_profiles_job(job.data.id).data.attributes.completed_count == 10_000
    assert klaviyo["klaviyo"].dump()["lists"][list_id] == {"name": "big", "members": 10_000}
    posts = [e for e in klaviyo["klaviyo"].log.entries() if e.method == "POST"]
    assert [e.records for e in posts] == [1, 10_000]


def test_seed_creates_profiles_for_a_deterministic_half_of_contacts_and_no_lists(klaviyo):
    emulator = klaviyo["klaviyo"]
    emails = [f"Seed{i}@Company{i % 50}.example.com" for i in range(20_000)]
    started = time.perf_counter()
    counts = emulator.seed(contacts_dataset(emails))
    assert time.perf_counter() - started < 2.0
    assert abs(counts["profiles"] - 10_000) < 300
    first = set(emulator.state.profiles)
    with emulator.lock:
        emulator.reset()
    assert emulator.seed(contacts_dataset(emails)) == counts and set(emulator.state.profiles) == first
    api = client(klaviyo)
    assert api.Lists.get_lists().data == []
    seeded_email = emulator.state.profiles[sorted(first)[0]]["email"]
    with pytest.raises(ApiException) as caught:
        api.Profiles.create_profile(profile_body(seeded_email.lower()))
    assert errors_of(caught.value)[0]["meta"] == {"duplicate_profile_id": sorted(first)[0]}


def test_per_record_faults_hit_one_import_profile_or_a_whole_relationship_call(klaviyo):
    emulator = klaviyo["klaviyo"]
    api = client(klaviyo)
    list_id = api.Lists.create_list(list_body("faulty")).data.id
    emulator.faults.add({"record_ids": ["flaky@acme.example.com"], "code": "temporarily_unavailable",
                         "message": "Try again", "times": 1})
    job = api.Profiles.bulk_import_profiles(import_body(
        [{"email": "fine@acme.example.com"}, {"email": "Flaky@acme.example.com"}], list_id))
    assert api.Profiles.get_bulk_import_profiles_job(job.data.id).data.attributes.failed_count == 1
    errors = api.Profiles.get_errors_for_bulk_import_profiles_job(job.data.id).data
    assert [(e.attributes.code, e.attributes.detail) for e in errors] == [("temporarily_unavailable", "Try again")]

    fine = api.Profiles.get_profiles(filter='equals(email,"fine@acme.example.com")').data[0].id
    emulator.faults.add({"record_ids": [fine], "code": "conflict", "times": 1})
    with pytest.raises(ApiException) as caught:
        api.Lists.remove_profiles_from_list(list_id, {"data": [{"type": "profile", "id": fine}]})
    assert caught.value.status == 409 and errors_of(caught.value)[0]["code"] == "conflict"
    api.Lists.remove_profiles_from_list(list_id, {"data": [{"type": "profile", "id": fine}]})
    assert api.Lists.get_profile_ids_for_list(list_id).data == []

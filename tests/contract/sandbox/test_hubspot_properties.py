"""HubSpot emulator Properties API: groups, custom properties, enumeration options and typed value validation."""
from __future__ import annotations

import pytest
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import (
    BatchReadInputPropertyName,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyName,
    PropertyUpdate,
)
from hubspot.crm.properties.exceptions import NotFoundException

from tests.contract.sandbox.hubspot_helpers import body_of, client, seed


def make_property(crm, name: str, kind: str, field_type: str, options=None, unique: bool = False):
    return crm.properties.core_api.create("companies", PropertyCreate(
        name=name, label=name.replace("_", " ").title(), type=kind, field_type=field_type, group_name="segsync",
        options=options or [], has_unique_value=unique))


def write(crm, properties: dict, record_id: str = "1000"):
    return crm.companies.batch_api.update(BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=record_id, properties=properties)])).results[0].properties


def rejected_code(crm, properties: dict) -> tuple[str, str]:
    with pytest.raises(ApiException) as info:
        write(crm, properties)
    body = body_of(info.value)
    assert info.value.status == 400
    return body["errors"][0]["code"], body["errors"][0]["message"]


def test_groups_list_create_and_conflict(hubspot_sandbox):
    groups = client(hubspot_sandbox).crm.properties.groups_api
    assert [g.name for g in groups.get_all("companies").results] == ["companyinformation", "segsync"]
    created = groups.create("companies", PropertyGroupCreate(name="segments", label="Segments", display_order=3))
    assert (created.name, created.label, created.archived) == ("segments", "Segments", False)
    assert groups.get_by_name("companies", "segments").label == "Segments"
    with pytest.raises(PropertiesApiException) as info:
        groups.create("companies", PropertyGroupCreate(name="segments", label="Again"))
    assert info.value.status == 409 and body_of(info.value)["category"] == "OBJECT_ALREADY_EXISTS"


def test_segsync_property_is_unique_in_its_group(hubspot_sandbox):
    prop = client(hubspot_sandbox).crm.properties.core_api.get_by_name("companies", "product_account_id")
    assert (prop.group_name, prop.type, prop.field_type, prop.has_unique_value) == ("segsync", "string", "text", True)
    with pytest.raises(NotFoundException):
        client(hubspot_sandbox).crm.properties.core_api.get_by_name("companies", "nope")


def test_create_property_validates_definition(hubspot_sandbox):
    crm = client(hubspot_sandbox).crm
    made = make_property(crm, "segment_score", "number", "number")
    assert (made.name, made.type, made.options, made.modification_metadata.archivable) == (
        "segment_score", "number", [], True)
    names = [p.name for p in crm.properties.core_api.get_all("companies").results]
    assert "segment_score" in names and "industry" in names
    with pytest.raises(PropertiesApiException) as info:
        make_property(crm, "segment_score", "number", "number")
    assert info.value.status == 409
    with pytest.raises(PropertiesApiException) as info:
        make_property(crm, "tier_without_options", "enumeration", "select")
    assert info.value.status == 400 and "options" in body_of(info.value)["message"]
    with pytest.raises(PropertiesApiException) as info:
        make_property(crm, "bad_field", "date", "text")
    assert info.value.status == 400
    assert "fieldType 'text' is not valid for type 'date'" in body_of(info.value)["message"]
    with pytest.raises(PropertiesApiException) as info:
        crm.properties.core_api.create("companies", PropertyCreate(
            name="lost", label="Lost", type="string", field_type="text", group_name="no_such_group"))
    assert info.value.status == 400


def test_enumeration_writes_use_internal_values(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 0)
    crm = client(hubspot_sandbox).crm
    make_property(crm, "segment_tier", "enumeration", "select", options=[
        OptionInput(label="Gold tier", value="gold", hidden=False, display_order=0),
        OptionInput(label="Silver tier", value="silver", hidden=False, display_order=1)])
    assert write(crm, {"segment_tier": "gold"})["segment_tier"] == "gold"
    code, message = rejected_code(crm, {"segment_tier": "Gold tier"})
    assert code == "INVALID_OPTION"
    assert message == "Gold tier was not one of the allowed options: [gold, silver]"
    crm.properties.core_api.update("companies", "segment_tier", PropertyUpdate(options=[
        OptionInput(label="Gold tier", value="gold", hidden=False, display_order=0),
        OptionInput(label="Bronze tier", value="bronze", hidden=False, display_order=1)]))
    assert write(crm, {"segment_tier": "bronze"})["segment_tier"] == "bronze"
    assert rejected_code(crm, {"segment_tier": "silver"})[0] == "INVALID_OPTION"


def test_multi_select_takes_semicolon_joined_values(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 0)
    crm = client(hubspot_sandbox).crm
    make_property(crm, "segments", "enumeration", "checkbox", options=[
        OptionInput(label="Churn risk", value="churn_risk", hidden=False, display_order=0),
        OptionInput(label="Upsell", value="upsell", hidden=False, display_order=1)])
    assert write(crm, {"segments": "churn_risk;upsell"})["segments"] == "churn_risk;upsell"
    assert rejected_code(crm, {"segments": "churn_risk;Upsell"})[0] == "INVALID_OPTION"
    assert write(crm, {"segments": ""})["segments"] is None


def test_date_properties_need_midnight_utc(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 0)
    crm = client(hubspot_sandbox).crm
    make_property(crm, "segment_entered_date", "date", "date")
    assert write(crm, {"segment_entered_date": "2024-03-01"})["segment_entered_date"] == "2024-03-01"
    assert write(crm, {"segment_entered_date": 1709337600000})["segment_entered_date"] == "2024-03-02"
    code, message = rejected_code(crm, {"segment_entered_date": 1709337600001})
    assert code == "INVALID_DATE" and message == "1709337600001 is at 00:00:00.001 UTC, not midnight!"
    assert rejected_code(crm, {"segment_entered_date": "2024-03-01T10:00:00Z"})[0] == "INVALID_DATE"
    assert rejected_code(crm, {"segment_entered_date": "March 1st"})[0] == "INVALID_DATE"


def test_datetime_accepts_iso_or_epoch_ms(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 0)
    crm = client(hubspot_sandbox).crm
    make_property(crm, "segment_entered_at", "datetime", "date")
    assert write(crm, {"segment_entered_at": "2024-03-01T10:00:00Z"})["segment_entered_at"] == \
        "2024-03-01T10:00:00.000Z"
    assert write(crm, {"segment_entered_at": 1709287200123})["segment_entered_at"] == "2024-03-01T10:00:00.123Z"
    assert write(crm, {"segment_entered_at": "2024-03-01T12:00:00+02:00"})["segment_entered_at"] == \
        "2024-03-01T10:00:00.000Z"
    assert rejected_code(crm, {"segment_entered_at": "soon"})[0] == "INVALID_DATETIME"


def test_number_and_bool_validation(hubspot_sandbox):
    seed(hubspot_sandbox, 1, 0)
    crm = client(hubspot_sandbox).crm
    make_property(crm, "segment_score", "number", "number")
    make_property(crm, "in_segment", "bool", "booleancheckbox")
    written = write(crm, {"segment_score": "12.50", "in_segment": True})
    assert (written["segment_score"], written["in_segment"]) == ("12.5", "true")
    assert write(crm, {"segment_score": 7})["segment_score"] == "7"
    assert rejected_code(crm, {"segment_score": "12,5"})[0] == "INVALID_NUMBER"
    assert rejected_code(crm, {"in_segment": "yes"})[0] == "INVALID_BOOLEAN"


def test_custom_unique_property_works_as_id_property(hubspot_sandbox):
    seed(hubspot_sandbox, 2, 0)
    crm = client(hubspot_sandbox).crm
    make_property(crm, "billing_key", "string", "text", unique=True)
    write(crm, {"billing_key": "cus_1"}, record_id="1001")
    result = crm.companies.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id="cus_1", id_property="billing_key", properties={"country": "FR"})]))
    assert [(r.id, r.new, r.properties["country"]) for r in result.results] == [("1001", False, "FR")]
    with pytest.raises(ApiException) as info:
        write(crm, {"billing_key": "cus_1"}, record_id="1000")
    assert info.value.status == 400 and "Existing ID: 1001" in body_of(info.value)["message"]


def test_batch_read_and_archive_properties(hubspot_sandbox):
    crm = client(hubspot_sandbox).crm
    make_property(crm, "segment_score", "number", "number")
    read = crm.properties.batch_api.read("companies", BatchReadInputPropertyName(
        archived=False, inputs=[PropertyName(name="industry"), PropertyName(name="nope")]))
    assert [p.name for p in read.results] == ["industry"]
    assert read.errors[0].category == "OBJECT_NOT_FOUND" and read.errors[0].context == {"properties": ["nope"]}
    crm.properties.core_api.archive("companies", "segment_score")
    with pytest.raises(NotFoundException):
        crm.properties.core_api.get_by_name("companies", "segment_score")
    with pytest.raises(PropertiesApiException) as info:
        crm.properties.core_api.archive("companies", "industry")
    assert info.value.status == 400 and "HubSpot-defined" in body_of(info.value)["message"]

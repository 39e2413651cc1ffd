"""REST API routes: limits, describe, SOQL query/queryAll with cursors, single records, sObject Collections."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.salesforce import queryexec, soql
from sandbox.salesforce.errors import RecordError, SfRequestError, not_found
from sandbox.salesforce.ids import normalise_id
from sandbox.salesforce.schema import FieldDef, ObjectDef, from_json

if TYPE_CHECKING:
    from sandbox.salesforce import SalesforceEmulator

P = "/services/data/{version}"
COLLECTION_MAX = 200
QUERY_BATCH_DEFAULT = 2000
_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


async def json_body(request: Request) -> object:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except json.JSONDecodeError as exc:
        raise SfRequestError(400, "JSON_PARSER_ERROR", f"Unexpected character at [line:{exc.lineno}, "
                                                       f"column:{exc.colno}]: {exc.msg}") from None


def typed_values(emulator: "SalesforceEmulator", obj: ObjectDef, body: dict) -> dict[FieldDef, object]:
    """JSON fields -> {FieldDef: stored value}; unknown fields and wrong JSON types refuse the whole request."""
    mapped = emulator.org.check_columns(obj, body.keys())
    return {fdef: from_json(fdef, body[name]) for name, fdef in mapped.items()}


def _object(emulator: "SalesforceEmulator", name: str) -> ObjectDef:
    obj = emulator.org.object(name)
    if obj is None:
        raise not_found()
    return obj


def _record_json(obj: ObjectDef, record: dict, version: str, fields: list[str] | None = None) -> dict:
    names = fields or list(obj.fields)
    out = {"attributes": {"type": obj.name, "url": f"/services/data/{version}/sobjects/{obj.name}/{record['Id']}"}}
    for name in names:
        fdef = obj.field(name)
        if fdef is None:
            raise SfRequestError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
        out[fdef.name] = record.get(fdef.name, fdef.default)
    return out


def _split_fields(text: str | None) -> list[str] | None:
    return [f.strip() for f in text.split(",") if f.strip()] if text else None


def _save_result(outcome_id: str, created: bool | None = None) -> dict:
    body = {"id": outcome_id, "success": True, "errors": []}
    if created is not None:
        body["created"] = created
    return body


def _single_write_error(exc: RecordError) -> JSONResponse:
    return JSONResponse([{"message": exc.message, "errorCode": exc.code, "fields": exc.fields}], status_code=400)


def add_rest_routes(app: FastAPI, emulator: "SalesforceEmulator") -> None:

    @app.get("/services/data")
    @app.get("/services/data/")
    def versions():
        return [{"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}]

    @app.get(P + "/limits")
    @app.get(P + "/limits/")
    def limits(request: Request, version: str):
        with emulator.lock:
            emulator.begin(request, version)
            return emulator.limits_body()

    @app.get(P + "/sobjects")
    @app.get(P + "/sobjects/")
    def global_describe(request: Request, version: str):
        with emulator.lock:
            emulator.begin(request, version)
            return {"encoding": "UTF-8", "maxBatchSize": COLLECTION_MAX, "sobjects": [
                {k: v for k, v in o.describe(version).items() if k != "fields"} for o in emulator.org.objects.values()]}

    @app.get(P + "/sobjects/{object_name}/describe")
    @app.get(P + "/sobjects/{object_name}/describe/")
    def describe(request: Request, version: str, object_name: str):
        with emulator.lock:
            emulator.begin(request, version)
            return _object(emulator, object_name).describe(version)

    @app.get(P + "/sobjects/{object_name}")
    @app.get(P + "/sobjects/{object_name}/")
    def object_info(request: Request, version: str, object_name: str):
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            info = {k: v for k, v in obj.describe(version).items() if k != "fields"}
            return {"objectDescribe": info, "recentItems": []}

    @app.post(P + "/sobjects/{object_name}")
    @app.post(P + "/sobjects/{object_name}/")
    async def create_one(request: Request, version: str, object_name: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            if not isinstance(body, dict):
                raise SfRequestError(400, "JSON_PARSER_ERROR", "the request body must be a JSON object of fields")
            values = typed_values(emulator, obj, body)
            request.state.records = 1
            [outcome] = emulator.org.run_batch([lambda stamp: (emulator.org.create(obj, values, stamp), True)], all_or_none=True)
            if not outcome.success:
                return _single_write_error(outcome.errors[0])
            return JSONResponse(_save_result(outcome.id), status_code=201)

    @app.get(P + "/sobjects/{object_name}/{record_id}")
    def get_one(request: Request, version: str, object_name: str, record_id: str, fields: str | None = None):
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            full = normalise_id(record_id, obj.key_prefix)
            record = emulator.org.records[obj.name].get(full) if full else None
            if record is None:
                raise not_found()
            if record.get("IsDeleted"):
                raise SfRequestError(404, "ENTITY_IS_DELETED", "entity is deleted")
            request.state.records = 1
            return _record_json(obj, record, version, _split_fields(fields))

    @app.patch(P + "/sobjects/{object_name}/{record_id}")
    async def update_one(request: Request, version: str, object_name: str, record_id: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            if not isinstance(body, dict):
                raise SfRequestError(400, "JSON_PARSER_ERROR", "the request body must be a JSON object of fields")
            values = typed_values(emulator, obj, body)
            request.state.records = 1
            [outcome] = emulator.org.run_batch(
                [lambda stamp: (emulator.org.update(obj, record_id, values, stamp, emulator.record_fault), False)],
                all_or_none=True)
            if not outcome.success:
                error = outcome.errors[0]
                if error.code == "INVALID_CROSS_REFERENCE_KEY":
                    raise not_found()
                return _single_write_error(error)
            return Response(status_code=204)

    @app.delete(P + "/sobjects/{object_name}/{record_id}")
    def delete_one(request: Request, version: str, object_name: str, record_id: str):
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            request.state.records = 1
            [outcome] = emulator.org.run_batch(
                [lambda stamp: (emulator.org.delete(obj, record_id, stamp, emulator.record_fault), False)],
                all_or_none=True)
            if not outcome.success:
                error = outcome.errors[0]
                if error.code == "INVALID_CROSS_REFERENCE_KEY":
                    raise not_found()
                return _single_write_error(error)
            return Response(status_code=204)

    @app.get(P + "/sobjects/{object_name}/{field_name}/{value}")
    def get_by_external_id(request: Request, version: str, object_name: str, field_name: str, value: str,
                           fields: str | None = None):
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            key = _key_field(obj, field_name)
            record_id = emulator.org.ext_index.get((obj.name, key.name), {}).get(value.casefold())
            record = emulator.org.records[obj.name].get(record_id) if record_id else None
            if record is None:
                raise not_found()
            request.state.records = 1
            return _record_json(obj, record, version, _split_fields(fields))

    @app.patch(P + "/sobjects/{object_name}/{field_name}/{value}")
    async def upsert_one(request: Request, version: str, object_name: str, field_name: str, value: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            key = _key_field(obj, field_name)
            if not isinstance(body, dict):
                raise SfRequestError(400, "JSON_PARSER_ERROR", "the request body must be a JSON object of fields")
            if any(k.lower() == key.name.lower() for k in body):
                raise SfRequestError(400, "INVALID_FIELD", f"{key.name} is specified in the URL; "
                                     "don't repeat it in the request body")
            values = typed_values(emulator, obj, body)
            values[key] = value
            request.state.records = 1
            [outcome] = emulator.org.run_batch(
                [lambda stamp: emulator.org.upsert(obj, key, values, stamp, emulator.record_fault)], all_or_none=True)
            if not outcome.success:
                return _single_write_error(outcome.errors[0])
            return JSONResponse(_save_result(outcome.id, outcome.created), status_code=201 if outcome.created else 200)

    # -- SOQL -------------------------------------------------------------------------------------------------
    def start_query(request: Request, version: str, q: str | None, include_deleted: bool):
        with emulator.lock:
            emulator.begin(request, version)
            if not q:
                raise SfRequestError(400, "MALFORMED_QUERY", "A query string has to be specified")
            query = soql.check(soql.parse(q), emulator.org.objects)
            rows = queryexec.run(query, emulator.org.records, include_deleted=include_deleted)
            if query.count_only:
                request.state.records = 0
                return {"totalSize": len(rows), "done": True, "records": []}
            cursor = emulator.open_cursor(query, rows, include_deleted)
            return page(request, version, cursor, 0)

    def page(request: Request, version: str, cursor, offset: int) -> JSONResponse:
        size = _batch_size(request)
        chunk = cursor.rows[offset: offset + size]
        request.state.records = len(chunk)
        body = {"totalSize": len(cursor.rows), "done": offset + size >= len(cursor.rows),
                "records": queryexec.render_json(chunk, cursor.query, emulator.org.records, version)}
        if not body["done"]:
            endpoint = "queryAll" if cursor.include_deleted else "query"
            body["nextRecordsUrl"] = f"/services/data/{version}/{endpoint}/{cursor.locator}-{offset + size}"
        return JSONResponse(body)  # already JSON-native: skip FastAPI's per-value encoder on large pages

    def more(request: Request, version: str, locator: str):
        with emulator.lock:
            emulator.begin(request, version)
            name, _, offset = locator.rpartition("-")
            cursor = emulator.cursors.get(name)
            if cursor is None or not offset.isdigit() or int(offset) > len(cursor.rows):
                raise SfRequestError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return page(request, version, cursor, int(offset))

    @app.get(P + "/query")
    @app.get(P + "/query/")
    def query_route(request: Request, version: str, q: str | None = None):
        return start_query(request, version, q, False)

    @app.get(P + "/queryAll")
    @app.get(P + "/queryAll/")
    def query_all_route(request: Request, version: str, q: str | None = None):
        return start_query(request, version, q, True)

    @app.get(P + "/query/{locator}")
    @app.get(P + "/queryAll/{locator}")
    def query_more_route(request: Request, version: str, locator: str):
        return more(request, version, locator)

    add_collection_routes(app, emulator)


def _batch_size(request: Request) -> int:
    match = _BATCH_OPTION.search(request.headers.get("Sforce-Query-Options", ""))
    if not match:
        return QUERY_BATCH_DEFAULT
    return min(max(int(match.group(1)), 200), QUERY_BATCH_DEFAULT)


def _key_field(obj: ObjectDef, field_name: str) -> FieldDef:
    key = obj.field(field_name)
    if key is None:
        raise SfRequestError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: "
                                               f"{field_name}")
    if not (key.external_id or key.type == "id"):
        raise SfRequestError(400, "INVALID_FIELD", f"Field name provided, {key.name} is not an External ID or "
                                                   f"indexed field for {obj.name}")
    return key


def _collection_records(body: object) -> tuple[list[dict], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SfRequestError(400, "JSON_PARSER_ERROR", "expected a JSON object with a 'records' array")
    records = body["records"]
    if len(records) > COLLECTION_MAX:
        raise SfRequestError(400, "EXCEEDED_ID_LIMIT",
                             f"record limit reached. cannot submit more than {COLLECTION_MAX} records into this call")
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise SfRequestError(400, "JSON_PARSER_ERROR", f"allOrNone must be true or false, got {all_or_none!r}")
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("attributes"), dict) \
                or not record["attributes"].get("type"):
            raise SfRequestError(400, "INVALID_TYPE",
                                 f"records[{index}]: an sObject type must be given in attributes.type")
    return records, all_or_none


def add_collection_routes(app: FastAPI, emulator: "SalesforceEmulator") -> None:

    def typed(record: dict) -> tuple[ObjectDef, dict]:
        obj = emulator.org.object(record["attributes"]["type"])
        if obj is None:
            raise SfRequestError(400, "INVALID_TYPE", f"sObject type '{record['attributes']['type']}' is not supported.")
        return obj, typed_values(emulator, obj, {k: v for k, v in record.items() if k != "attributes"})

    @app.post(P + "/composite/sobjects")
    async def collection_create(request: Request, version: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            records, all_or_none = _collection_records(body)
            request.state.records = len(records)
            prepared = [typed(r) for r in records]
            ops = [lambda stamp, o=o, v=v: (emulator.org.create(o, v, stamp), True) for o, v in prepared]
            return [o.as_dict() for o in emulator.org.run_batch(ops, all_or_none=all_or_none)]

    @app.patch(P + "/composite/sobjects")
    async def collection_update(request: Request, version: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            records, all_or_none = _collection_records(body)
            request.state.records = len(records)
            prepared = [(typed(r), next((v for k, v in r.items() if k.lower() == "id"), None)) for r in records]
            twice = emulator.org.duplicated((rid for _, rid in prepared), ids=True)
            ops = [lambda stamp, o=o, v=v, rid=rid: (emulator.org.update(o, rid, v, stamp, emulator.record_fault,
                                                                         twice), False)
                   for (o, v), rid in prepared]
            return [o.as_dict() for o in emulator.org.run_batch(ops, all_or_none=all_or_none)]

    @app.patch(P + "/composite/sobjects/{object_name}/{field_name}")
    async def collection_upsert(request: Request, version: str, object_name: str, field_name: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            key = _key_field(obj, field_name)
            records, all_or_none = _collection_records(body)
            request.state.records = len(records)
            prepared = []
            for index, record in enumerate(records):
                rec_obj, values = typed(record)
                if rec_obj.name != obj.name:
                    raise SfRequestError(400, "INVALID_TYPE", f"records[{index}] is a {rec_obj.name}; this upsert "
                                                              f"takes {obj.name} records only")
                prepared.append(values)
            twice = emulator.org.duplicated((v.get(key) for v in prepared), ids=key.type == "id")
            ops = [lambda stamp, v=v: emulator.org.upsert(obj, key, v, stamp, emulator.record_fault, twice)
                   for v in prepared]
            return [o.as_dict(with_created=True) for o in emulator.org.run_batch(ops, all_or_none=all_or_none)]

    @app.delete(P + "/composite/sobjects")
    def collection_delete(request: Request, version: str, ids: str = "", allOrNone: str = "false"):  # noqa: N803
        with emulator.lock:
            emulator.begin(request, version)
            id_list = [i.strip() for i in ids.split(",") if i.strip()]
            if not id_list:
                raise SfRequestError(400, "MISSING_ARGUMENT", "ids parameter is required: a comma-separated id list")
            if len(id_list) > COLLECTION_MAX:
                raise SfRequestError(400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than "
                                                               f"{COLLECTION_MAX} records into this call")
            request.state.records = len(id_list)

            def deleter(record_id: str):
                def run(stamp: str):
                    obj = emulator.org.object_for_id(record_id)
                    if obj is None or normalise_id(record_id) is None:
                        raise RecordError("MALFORMED_ID", f"malformed id {record_id}", [])
                    return emulator.org.delete(obj, record_id, stamp, emulator.record_fault), False
                return run

            outcomes = emulator.org.run_batch([deleter(i) for i in id_list], all_or_none=allOrNone.lower() == "true")
            return [o.as_dict() for o in outcomes]

    def retrieve(request: Request, version: str, object_name: str, ids: list[str], fields: list[str], limit: int):
        with emulator.lock:
            emulator.begin(request, version)
            obj = _object(emulator, object_name)
            if not ids or not fields:
                raise SfRequestError(400, "MISSING_ARGUMENT", "both ids and fields are required")
            if len(ids) > limit:
                raise SfRequestError(400, "EXCEEDED_ID_LIMIT", f"cannot retrieve more than {limit} records")
            for name in fields:
                if obj.field(name) is None:
                    raise SfRequestError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'")
            request.state.records = len(ids)
            out = []
            for record_id in ids:
                full = normalise_id(record_id, obj.key_prefix)
                record = emulator.org.records[obj.name].get(full) if full else None
                live = record is not None and not record.get("IsDeleted")
                out.append(_record_json(obj, record, version, fields) if live else None)
            return out

    @app.get(P + "/composite/sobjects/{object_name}")
    def collection_retrieve_get(request: Request, version: str, object_name: str, ids: str = "", fields: str = ""):
        return retrieve(request, version, object_name, _split_fields(ids) or [], _split_fields(fields) or [], 800)

    @app.post(P + "/composite/sobjects/{object_name}")
    async def collection_retrieve_post(request: Request, version: str, object_name: str):
        body = await json_body(request)
        if not isinstance(body, dict):
            raise SfRequestError(400, "JSON_PARSER_ERROR", "expected {\"ids\": [...], \"fields\": [...]}")
        return retrieve(request, version, object_name, list(body.get("ids") or []), list(body.get("fields") or []),
                        2000)

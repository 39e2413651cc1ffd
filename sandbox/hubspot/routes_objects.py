"""CRM v3 object routes: list, get, create, update, archive, batch read/create/update/upsert/archive, merge, search."""
from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.hubspot.clock import now_ms
from sandbox.hubspot.errors import HubSpotError, not_found, validation_error
from sandbox.hubspot.http import (batch_inputs, batch_response, query_bool, query_int, query_list, read_object,
                                  standard_error)
from sandbox.hubspot.records import ObjectStore, Record, resolve_type
from sandbox.hubspot.search import search_page

LIST_MAX = 100


def _with_associations(emu, object_type: str, record: Record, body: dict, kinds: list[str]) -> dict:
    associations = {}
    for kind in kinds:
        to_type = resolve_type(kind)
        if to_type == object_type:
            continue
        name = "company_to_contact" if object_type == "companies" else "contact_to_company"
        ids = emu.state.associations.targets(object_type, record.id)
        if ids:
            associations[to_type] = {"results": [{"id": i, "type": name} for i in ids]}
    if associations:
        body["associations"] = associations
    return body


def _not_found_error(store: ObjectStore, ids: list[str]) -> dict:
    return standard_error("OBJECT_NOT_FOUND",
                          f"Could not get some {store.meta['singular']} objects, they may be deleted or not exist. "
                          f"Check that ids are valid.", {"ids": ids})


def _fault_errors(emu, records: list[tuple[object, Record]]) -> tuple[list[tuple[object, Record]], list[dict]]:
    """Split writes into those to do and per-record injected failures (grouped by code, HubSpot's 207 shape)."""
    keep, failed = [], {}
    for key, record in records:
        fault = emu.faults.record_fault(record.id)
        if fault is None:
            keep.append((key, record))
        else:
            failed.setdefault((fault.code, fault.message), []).append(record.id)
    errors = [standard_error(code, message or f"{code} for records {', '.join(ids)}", {"ids": ids})
              for (code, message), ids in failed.items()]
    return keep, errors


def _raise_conflicts(store: ObjectStore, conflicts: list[tuple[str, str, str]], status: int = 409) -> None:
    if conflicts:
        name, value, holder = conflicts[0]
        label = store.meta["singular"].capitalize()
        raise HubSpotError(status, f"{label} already exists. Existing ID: {holder}",
                           "CONFLICT" if status == 409 else "VALIDATION_ERROR",
                           context={"propertyName": [name], "value": [value], "existingId": [holder]})


def _create_many(store: ObjectStore, values_list: list[dict]) -> list[Record]:
    seen: dict[tuple[str, str], int] = {}
    for i, values in enumerate(values_list):
        _raise_conflicts(store, store.unique_conflicts(values, None))
        for name in store.unique:
            if values.get(name) is not None:
                if (name, values[name]) in seen:
                    raise validation_error(f"Duplicate value {values[name]!r} for unique property {name} in inputs "
                                           f"{seen[(name, values[name])]} and {i}.")
                seen[(name, values[name])] = i
    return [store.insert(values) for values in values_list]


def register(router: APIRouter, emu) -> None:
    base = "/crm/v3/objects/{object_type}"

    @router.get(base)
    async def list_objects(object_type: str, request: Request):
        with emu.lock:
            store = emu.store(object_type)
            limit = query_int(request, "limit", 10, LIST_MAX)
            archived = query_bool(request, "archived")
            records, after = store.page(request.query_params.get("after"), limit, archived=archived)
            request.state.records = len(records)
            properties = query_list(request, "properties") or None
            kinds = query_list(request, "associations")
            body = {"results": [_with_associations(emu, store.object_type, r, store.record_json(r, properties), kinds)
                                for r in records]}
            if after is not None:
                link = str(request.url.include_query_params(after=after))
                body["paging"] = {"next": {"after": after, "link": link}}
            return body

    @router.post(base)
    async def create_object(object_type: str, request: Request):
        body = await read_object(request)
        request.state.records = 1
        with emu.lock:
            store = emu.store(object_type)
            values = store.validate_all([body])[0]
            targets = emu.association_targets(store.object_type, body.get("associations"), "associations")
            record = _create_many(store, [values])[0]
            emu.link(store.object_type, record.id, targets)
            return JSONResponse(store.record_json(record, None), status_code=201)

    @router.get(base + "/{record_id}")
    async def get_object(object_type: str, record_id: str, request: Request):
        with emu.lock:
            store = emu.store(object_type)
            id_property = store.check_id_property(request.query_params.get("idProperty"))
            archived = query_bool(request, "archived")
            record = store.find_by(id_property, record_id, archived=archived)
            if record is None:
                raise not_found(f"Object not found. objectId are usually numeric. ({store.meta['singular']} "
                                f"{record_id})", context={"id": [record_id]})
            request.state.records = 1
            body = store.record_json(record, query_list(request, "properties") or None)
            return _with_associations(emu, store.object_type, record, body, query_list(request, "associations"))

    @router.patch(base + "/{record_id}")
    async def update_object(object_type: str, record_id: str, request: Request):
        body = await read_object(request)
        request.state.records = 1
        with emu.lock:
            store = emu.store(object_type)
            id_property = store.check_id_property(request.query_params.get("idProperty"))
            values = store.validate_all([body])[0]
            record = store.find_by(id_property, record_id)
            if record is None:
                raise not_found(f"Object not found. objectId are usually numeric. ({record_id})",
                                context={"id": [record_id]})
            _raise_conflicts(store, store.unique_conflicts(values, record.id), status=400)
            store.apply(record, values)
            return store.record_json(record, [*store.meta["defaults"], *values])

    @router.delete(base + "/{record_id}")
    async def archive_object(object_type: str, record_id: str, request: Request):
        with emu.lock:
            store = emu.store(object_type)
            record = store.find(record_id, follow_merges=False)
            request.state.records = 1
            if record is not None:
                store.archive(record)
            return Response(status_code=204)

    @router.post(base + "/batch/read")
    async def batch_read(object_type: str, request: Request):
        body = await read_object(request)
        started = now_ms()
        with emu.lock:
            store = emu.store(object_type)
            inputs = batch_inputs(body, request)
            id_property = store.check_id_property(body.get("idProperty"))
            archived = query_bool(request, "archived")
            properties = body.get("properties") or None
            results, missing, seen = [], [], set()
            for item in inputs:
                key = str(item.get("id", ""))
                record = store.find_by(id_property, key, archived=archived) if key else None
                if record is None:
                    missing.append(key)
                elif record.id not in seen:
                    seen.add(record.id)
                    results.append(store.record_json(record, properties))
            errors = [_not_found_error(store, missing)] if missing else []
            return batch_response(results, errors, started)

    @router.post(base + "/batch/create")
    async def batch_create(object_type: str, request: Request):
        body = await read_object(request)
        started = now_ms()
        with emu.lock:
            store = emu.store(object_type)
            inputs = batch_inputs(body, request)
            values_list = store.validate_all(inputs)
            targets = [emu.association_targets(store.object_type, item.get("associations"), f"inputs[{i}].associations")
                       for i, item in enumerate(inputs)]
            records = _create_many(store, values_list)
            for record, linked in zip(records, targets):
                emu.link(store.object_type, record.id, linked)
            return batch_response([store.record_json(r, None) for r in records], [], started, ok_status=201)

    @router.post(base + "/batch/update")
    async def batch_update(object_type: str, request: Request):
        body = await read_object(request)
        started = now_ms()
        with emu.lock:
            store = emu.store(object_type)
            inputs = batch_inputs(body, request)
            keys = [str(item.get("id", "")) for item in inputs]
            dupes = sorted(k for k, n in Counter(keys).items() if n > 1)
            if dupes:
                raise validation_error(f"Duplicate IDs found in batch input: {dupes}. IDs must be unique",
                                       context={"ids": dupes})
            id_props = [store.check_id_property(item.get("idProperty")) for item in inputs]
            values_list = store.validate_all(inputs)
            found, missing = [], []
            for key, id_property, values in zip(keys, id_props, values_list):
                record = store.find_by(id_property, key) if key else None
                if record is None:
                    missing.append(key)
                else:
                    _raise_conflicts(store, store.unique_conflicts(values, record.id), status=400)
                    found.append(((key, values), record))
            todo, errors = _fault_errors(emu, found)
            results = []
            for (key, values), record in todo:
                store.apply(record, values)
                results.append(store.record_json(record, [*store.meta["defaults"], *values]))
            if missing:
                errors.insert(0, _not_found_error(store, missing))
            return batch_response(results, errors, started)

    @router.post(base + "/batch/upsert")
    async def batch_upsert(object_type: str, request: Request):
        body = await read_object(request)
        started = now_ms()
        with emu.lock:
            store = emu.store(object_type)
            inputs = batch_inputs(body, request)
            plans = []
            for i, item in enumerate(inputs):
                if not item.get("idProperty"):
                    raise validation_error(f"inputs[{i}].idProperty is required for upsert and must be a unique-value "
                                           f"property.")
                id_property = store.check_id_property(item["idProperty"])
                if id_property == "hs_object_id":
                    raise validation_error(f"inputs[{i}].idProperty hs_object_id cannot be used for upsert; use a "
                                           f"unique-value property.")
                if item.get("id") in (None, ""):
                    raise validation_error(f"inputs[{i}].id (the {id_property} value) is required.")
                plans.append(id_property)
            values_list = store.validate_all(inputs)
            todo, created_keys = [], set()
            for item, id_property, values in zip(inputs, plans, values_list):
                key_value = store.validate({id_property: item["id"]})[0].get(id_property)
                values.setdefault(id_property, key_value)
                todo.append((key_value, id_property, values, store.find_by(id_property, str(item["id"]))))
            existing = [((k, p, v), r) for k, p, v, r in todo if r is not None]
            kept, errors = _fault_errors(emu, existing)
            kept_ids = {r.id for _, r in kept}
            results = []
            for key_value, id_property, values, record in todo:
                if record is None:
                    if (id_property, key_value) in created_keys:
                        raise validation_error(f"Duplicate {id_property} value {key_value!r} in upsert inputs.")
                    created_keys.add((id_property, key_value))
                    _raise_conflicts(store, store.unique_conflicts(values, None))
                    record, new = store.insert(values), True
                elif record.id in kept_ids:
                    _raise_conflicts(store, store.unique_conflicts(values, record.id), status=400)
                    store.apply(record, values)
                    new = False
                else:
                    continue
                results.append({**store.record_json(record, [*store.meta["defaults"], *values]), "new": new})
            return batch_response(results, errors, started)

    @router.post(base + "/batch/archive")
    async def batch_archive(object_type: str, request: Request):
        body = await read_object(request)
        with emu.lock:
            store = emu.store(object_type)
            for item in batch_inputs(body, request):
                record = store.find(str(item.get("id", "")), follow_merges=False)
                if record is not None:
                    store.archive(record)
            return Response(status_code=204)

    @router.post(base + "/merge")
    async def merge(object_type: str, request: Request):
        body = await read_object(request)
        request.state.records = 2
        with emu.lock:
            store = emu.store(object_type)
            primary_id, merged_id = str(body.get("primaryObjectId", "")), str(body.get("objectIdToMerge", ""))
            if not primary_id or not merged_id:
                raise validation_error("Merge needs primaryObjectId and objectIdToMerge.")
            if store.resolve(primary_id) == store.resolve(merged_id):
                raise validation_error(f"Cannot merge {store.meta['singular']} {merged_id} into itself.")
            primary = store.find(primary_id, follow_merges=False)
            merged = store.find(merged_id, follow_merges=False)
            absent = [i for i, r in ((primary_id, primary), (merged_id, merged)) if r is None]
            if absent:
                raise not_found(f"{store.meta['singular']} {', '.join(absent)} not found or already merged/archived.",
                                context={"ids": absent})
            store.merge(primary, merged)
            emu.state.associations.move(store.object_type, merged.id, primary.id)
            emu.move_list_memberships(store.object_type, merged.id, primary.id)
            return store.record_json(primary, [*store.meta["defaults"], "hs_merged_object_ids"])

    @router.post(base + "/search")
    async def search(object_type: str, request: Request):
        body = await read_object(request)
        with emu.lock:
            store = emu.store(object_type)
            page = search_page(emu.state.search_cache, store, body)
            request.state.records = len(page["results"])
            return page

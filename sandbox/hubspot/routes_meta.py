"""Properties API (properties, groups) and associations (v4 and v3) between companies and contacts."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.hubspot.clock import now_ms
from sandbox.hubspot.errors import not_found, validation_error
from sandbox.hubspot.http import batch_inputs, batch_response, query_int, read_object, standard_error
from sandbox.hubspot.records import resolve_type
from sandbox.hubspot.state import UNLABELED_TYPE, V3_TYPE_NAME

ASSOCIATION_BATCH_MAX = 1000  # v4 batch read/create: up to 1,000 inputs per call
ASSOCIATION_PAGE_MAX = 500


def register_properties(router: APIRouter, emu) -> None:
    base = "/crm/v3/properties/{object_type}"

    @router.get(base + "/groups")
    async def list_groups(object_type: str):
        with emu.lock:
            return {"results": [g.as_json() for g in emu.registry(object_type).groups.values()]}

    @router.post(base + "/groups")
    async def create_group(object_type: str, request: Request):
        body = await read_object(request)
        with emu.lock:
            return JSONResponse(emu.registry(object_type).create_group(body).as_json(), status_code=201)

    @router.get(base + "/groups/{group_name}")
    async def get_group(object_type: str, group_name: str):
        with emu.lock:
            group = emu.registry(object_type).groups.get(group_name)
            if group is None:
                raise not_found(f"Unable to find property group {group_name}", context={"groupName": [group_name]})
            return group.as_json()

    @router.get(base)
    async def list_properties(object_type: str):
        with emu.lock:
            return {"results": [p.as_json() for p in emu.registry(object_type).props.values()]}

    @router.post(base)
    async def create_property(object_type: str, request: Request):
        body = await read_object(request)
        with emu.lock:
            registry = emu.registry(object_type)
            prop = registry.create(body)
            if prop.has_unique_value:
                emu.store(object_type).unique.setdefault(prop.name, {})
            return JSONResponse(prop.as_json(), status_code=201)

    @router.post(base + "/batch/read")
    async def batch_read_properties(object_type: str, request: Request):
        body = await read_object(request)
        started = now_ms()
        with emu.lock:
            registry = emu.registry(object_type)
            inputs = batch_inputs(body, request, maximum=ASSOCIATION_BATCH_MAX)
            names = [str(i.get("name", "")) for i in inputs]
            found = [registry.props[n].as_json() for n in names if n in registry.props]
            missing = [n for n in names if n not in registry.props]
            errors = [standard_error("OBJECT_NOT_FOUND", f"Unable to find properties {missing}",
                                     {"properties": missing})] if missing else []
            return batch_response(found, errors, started)

    @router.get(base + "/{property_name}")
    async def get_property(object_type: str, property_name: str):
        with emu.lock:
            return emu.registry(object_type).get(property_name).as_json()

    @router.patch(base + "/{property_name}")
    async def update_property(object_type: str, property_name: str, request: Request):
        body = await read_object(request)
        with emu.lock:
            return emu.registry(object_type).update(property_name, body).as_json()

    @router.delete(base + "/{property_name}")
    async def archive_property(object_type: str, property_name: str):
        with emu.lock:
            registry = emu.registry(object_type)
            prop = registry.get(property_name)
            if prop.hubspot_defined:
                raise validation_error(f"{property_name} is a HubSpot-defined property and cannot be archived.")
            del registry.props[property_name]
            emu.store(object_type).unique.pop(property_name, None)
            return Response(status_code=204)


def _pair(from_type: str, to_type: str) -> tuple[str, str]:
    from_type, to_type = resolve_type(from_type), resolve_type(to_type)
    if from_type == to_type:
        raise validation_error(f"Associations between {from_type} and {to_type} are not supported by this sandbox.")
    return from_type, to_type


def _default_result(from_type: str, to_type: str, from_id: str, to_id: str) -> dict:
    return {"from": {"id": from_id}, "to": {"id": to_id},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": UNLABELED_TYPE[(from_type, to_type)]}}


def _no_associations(from_type: str, to_type: str, ids: list[str]) -> dict:
    return standard_error("OBJECT_NOT_FOUND",
                          f"No {to_type} is associated with {from_type} {', '.join(ids)}.",
                          {"fromObjectId": ids}, subCategory="crm.associations.NO_ASSOCIATIONS_FOUND")


def register_associations(router: APIRouter, emu) -> None:
    def associate(from_type: str, to_type: str, from_id: str, to_id: str) -> bool:
        if emu.store(from_type).find(from_id) is None or emu.store(to_type).find(to_id) is None:
            return False
        company, contact = (from_id, to_id) if from_type == "companies" else (to_id, from_id)
        emu.state.associations.add(company, contact)
        return True

    @router.get("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}")
    async def list_v4(from_type: str, from_id: str, to_type: str, request: Request):
        with emu.lock:
            from_type, to_type = _pair(from_type, to_type)
            limit = query_int(request, "limit", ASSOCIATION_PAGE_MAX, ASSOCIATION_PAGE_MAX)
            after = request.query_params.get("after")
            targets = emu.state.associations.targets(from_type, from_id)
            if after:
                targets = [t for t in targets if int(t) >= int(after)] if after.isdigit() else []
            page = targets[:limit]
            request.state.records = len(page)
            body = {"results": [{"toObjectId": int(t),
                                 "associationTypes": emu.state.associations.v4_types(from_type, from_id, t)}
                                for t in page]}
            if len(targets) > limit:
                body["paging"] = {"next": {"after": targets[limit]}}
            return body

    @router.put("/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")
    async def create_default_v4(from_type: str, from_id: str, to_type: str, to_id: str, request: Request):
        started = now_ms()
        with emu.lock:
            from_type, to_type = _pair(from_type, to_type)
            request.state.records = 1
            if not associate(from_type, to_type, from_id, to_id):
                raise not_found(f"{from_type} {from_id} or {to_type} {to_id} does not exist.",
                                context={"fromObjectId": [from_id], "toObjectId": [to_id]})
            return batch_response([_default_result(from_type, to_type, from_id, to_id)], [], started)

    @router.delete("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}")
    async def remove_v4(from_type: str, from_id: str, to_type: str, to_id: str, request: Request):
        with emu.lock:
            from_type, to_type = _pair(from_type, to_type)
            request.state.records = 1
            company, contact = (from_id, to_id) if from_type == "companies" else (to_id, from_id)
            emu.state.associations.remove(company, contact)
            return Response(status_code=204)

    @router.post("/crm/v4/associations/{from_type}/{to_type}/batch/associate/default")
    async def batch_default_v4(from_type: str, to_type: str, request: Request):
        body = await read_object(request)
        started = now_ms()
        with emu.lock:
            from_type, to_type = _pair(from_type, to_type)
            results, missing = [], []
            for item in batch_inputs(body, request, maximum=ASSOCIATION_BATCH_MAX):
                from_id = str((item.get("from") or {}).get("id", ""))
                to_id = str((item.get("to") or {}).get("id", ""))
                if associate(from_type, to_type, from_id, to_id):
                    results.append(_default_result(from_type, to_type, from_id, to_id))
                else:
                    missing.append(f"{from_id}->{to_id}")
            errors = [standard_error("OBJECT_NOT_FOUND", "Some records of the associations do not exist.",
                                     {"ids": missing})] if missing else []
            return batch_response(results, errors, started)

    @router.post("/crm/v4/associations/{from_type}/{to_type}/batch/read")
    async def batch_read_v4(from_type: str, to_type: str, request: Request):
        body = await read_object(request)
        started = now_ms()
        with emu.lock:
            from_type, to_type = _pair(from_type, to_type)
            results, empty = [], []
            for item in batch_inputs(body, request, maximum=ASSOCIATION_BATCH_MAX):
                from_id = str(item.get("id", ""))
                targets = emu.state.associations.targets(from_type, from_id)
                if not targets:
                    empty.append(from_id)
                    continue
                results.append({"from": {"id": from_id}, "to": [
                    {"toObjectId": int(t), "associationTypes": emu.state.associations.v4_types(from_type, from_id, t)}
                    for t in targets]})
            errors = [_no_associations(from_type, to_type, [i]) for i in empty]
            return batch_response(results, errors, started)

    @router.post("/crm/v3/associations/{from_type}/{to_type}/batch/read")
    async def batch_read_v3(from_type: str, to_type: str, request: Request):
        body = await read_object(request)
        started = now_ms()
        with emu.lock:
            from_type, to_type = _pair(from_type, to_type)
            type_name = V3_TYPE_NAME[(from_type, to_type)]
            results, empty = [], []
            for item in batch_inputs(body, request, maximum=ASSOCIATION_BATCH_MAX):
                from_id = str(item.get("id", ""))
                targets = emu.state.associations.targets(from_type, from_id)
                if not targets:
                    empty.append(from_id)
                    continue
                results.append({"from": {"id": from_id}, "to": [{"id": t, "type": type_name} for t in targets]})
            errors = [_no_associations(from_type, to_type, [i]) for i in empty]
            return batch_response(results, errors, started)

    @router.get("/crm/v3/objects/{from_type}/{from_id}/associations/{to_type}")
    async def list_v3(from_type: str, from_id: str, to_type: str, request: Request):
        with emu.lock:
            from_type, to_type = _pair(from_type, to_type)
            limit = query_int(request, "limit", ASSOCIATION_PAGE_MAX, ASSOCIATION_PAGE_MAX)
            targets = emu.state.associations.targets(from_type, from_id)
            after = request.query_params.get("after")
            if after:
                targets = [t for t in targets if int(t) >= int(after)] if after.isdigit() else []
            request.state.records = min(len(targets), limit)
            body = {"results": [{"id": t, "type": V3_TYPE_NAME[(from_type, to_type)]} for t in targets[:limit]]}
            if len(targets) > limit:
                body["paging"] = {"next": {"after": targets[limit]}}
            return body

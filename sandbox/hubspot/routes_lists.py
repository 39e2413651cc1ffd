"""Lists v3: create MANUAL/SNAPSHOT/DYNAMIC lists, fetch by id or name, search, and membership reads and writes."""
from __future__ import annotations

from bisect import bisect_left

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.hubspot.clock import iso_ms, now_ms
from sandbox.hubspot.errors import not_found, validation_error
from sandbox.hubspot.http import query_bool, query_int, query_list, read_json, read_object
from sandbox.hubspot.list_filters import evaluate, validate_branch
from sandbox.hubspot.state import HubList

OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies"}
PROCESSING_TYPES = ("MANUAL", "SNAPSHOT", "DYNAMIC")
WRITABLE = ("MANUAL", "SNAPSHOT")
MEMBERSHIP_PAGE_DEFAULT, MEMBERSHIP_PAGE_MAX = 100, 250
SEARCH_COUNT_DEFAULT, SEARCH_COUNT_MAX = 20, 500
# Record ids per membership add/remove call (configurable as `list_membership_max`).
DEFAULT_MEMBERSHIP_MAX = 100_000


def register(router: APIRouter, emu) -> None:
    def get_list(list_id: str) -> HubList:
        item = emu.state.lists.get(list_id)
        if item is None or item.deleted_ms is not None:
            raise not_found(f"List {list_id} does not exist.", context={"listId": [list_id]})
        return item

    def members(item: HubList) -> list[str]:
        """Current member ids ascending; DYNAMIC lists are evaluated against their filters on read."""
        if item.processing_type == "DYNAMIC":
            store = emu.store(OBJECT_TYPE_IDS[item.object_type_id])
            ids = evaluate(store, item.filter_branch)
            item.members = {i: item.members.get(i, item.created_ms) for i in ids}
            item._sorted = ids
        return item.sorted_members()

    def list_json(item: HubList, include_filters: bool) -> dict:
        size = len(members(item))
        body = {"listId": item.list_id, "listVersion": item.version, "name": item.name,
                "objectTypeId": item.object_type_id, "processingType": item.processing_type,
                "processingStatus": "COMPLETE", "createdAt": iso_ms(item.created_ms),
                "updatedAt": iso_ms(item.updated_ms), "filtersUpdatedAt": iso_ms(item.created_ms),
                "createdById": "1", "updatedById": "1", "size": size,
                "additionalProperties": {"hs_list_size": str(size), "hs_list_reference_count": "0"}}
        if include_filters and item.filter_branch is not None:
            body["filterBranch"] = item.filter_branch
        return body

    async def create_list(request: Request):
        body = await read_object(request)
        with emu.lock:
            name, type_id, kind = body.get("name"), body.get("objectTypeId"), body.get("processingType")
            if not isinstance(name, str) or not name.strip():
                raise validation_error("A list needs a non-empty `name`.")
            if type_id not in OBJECT_TYPE_IDS:
                raise validation_error(f"objectTypeId {type_id!r} is not supported; expected one of "
                                       f"{sorted(OBJECT_TYPE_IDS)} (0-1 contacts, 0-2 companies).")
            if kind not in PROCESSING_TYPES:
                raise validation_error(f"processingType {kind!r} must be one of {list(PROCESSING_TYPES)}.")
            branch = body.get("filterBranch")
            if kind == "MANUAL" and branch is not None:
                raise validation_error("MANUAL lists cannot have a filterBranch.")
            if kind != "MANUAL":
                validate_branch(emu.store(OBJECT_TYPE_IDS[type_id]), branch)
            if emu.state.list_by_name(name) is not None:
                raise validation_error(f"A list named '{name}' already exists.",
                                       subCategory="ILS.LIST_NAME_ALREADY_EXISTS", context={"name": [name]})
            stamp = now_ms()
            item = HubList(str(emu.state.next_list_id), name, type_id, kind, branch, stamp, stamp)
            emu.state.next_list_id += 1
            if kind == "SNAPSHOT":
                item.members = {i: stamp for i in evaluate(emu.store(OBJECT_TYPE_IDS[type_id]), branch)}
            emu.state.lists[item.list_id] = item
            return {"list": list_json(item, True)}

    router.add_api_route("/crm/v3/lists", create_list, methods=["POST"])
    router.add_api_route("/crm/v3/lists/", create_list, methods=["POST"])

    async def get_many(request: Request):
        with emu.lock:
            include = query_bool(request, "includeFilters")
            ids = query_list(request, "listIds")
            items = [emu.state.lists[i] for i in ids if i in emu.state.lists
                     and emu.state.lists[i].deleted_ms is None]
            return {"lists": [list_json(item, include) for item in items]}

    router.add_api_route("/crm/v3/lists", get_many, methods=["GET"])
    router.add_api_route("/crm/v3/lists/", get_many, methods=["GET"])

    @router.post("/crm/v3/lists/search")
    async def search_lists(request: Request):
        body = await read_object(request)
        with emu.lock:
            offset = body.get("offset", 0) or 0
            count = body.get("count", SEARCH_COUNT_DEFAULT) or SEARCH_COUNT_DEFAULT
            if not isinstance(count, int) or not 1 <= count <= SEARCH_COUNT_MAX:
                raise validation_error(f"count must be an integer from 1 to {SEARCH_COUNT_MAX}; got {count!r}.")
            query = (body.get("query") or "").lower()
            kinds = body.get("processingTypes") or []
            wanted_ids = {str(i) for i in body.get("listIds") or []}
            found = [x for x in emu.state.lists.values() if x.deleted_ms is None and query in x.name.lower()
                     and (not kinds or x.processing_type in kinds) and (not wanted_ids or x.list_id in wanted_ids)]
            found.sort(key=lambda x: int(x.list_id))
            page = found[offset:offset + count]
            return {"lists": [list_json(x, False) for x in page], "hasMore": offset + count < len(found),
                    "offset": offset + len(page), "total": len(found)}

    @router.get("/crm/v3/lists/object-type-id/{object_type_id}/name/{list_name}")
    async def get_by_name(object_type_id: str, list_name: str, request: Request):
        with emu.lock:
            item = emu.state.list_by_name(list_name)
            if item is None or item.object_type_id != object_type_id:
                raise not_found(f"List with name '{list_name}' and objectTypeId {object_type_id} does not exist.",
                                context={"listName": [list_name]})
            return {"list": list_json(item, query_bool(request, "includeFilters"))}

    @router.get("/crm/v3/lists/{list_id}")
    async def get_by_id(list_id: str, request: Request):
        with emu.lock:
            return {"list": list_json(get_list(list_id), query_bool(request, "includeFilters"))}

    @router.delete("/crm/v3/lists/{list_id}")
    async def delete_list(list_id: str):
        with emu.lock:
            get_list(list_id).deleted_ms = now_ms()
            return Response(status_code=204)

    @router.put("/crm/v3/lists/{list_id}/update-list-name")
    async def rename(list_id: str, request: Request):
        with emu.lock:
            item = get_list(list_id)
            name = request.query_params.get("listName", "")
            if not name.strip():
                raise validation_error("listName is required.")
            other = emu.state.list_by_name(name)
            if other is not None and other is not item:
                raise validation_error(f"A list named '{name}' already exists.",
                                       subCategory="ILS.LIST_NAME_ALREADY_EXISTS")
            item.name = name
            item.touch()
            return {"updatedList": list_json(item, query_bool(request, "includeFilters"))}

    def writable(list_id: str) -> HubList:
        item = get_list(list_id)
        if item.processing_type not in WRITABLE:
            raise validation_error(f"List {list_id} has processingType {item.processing_type}; memberships can only "
                                   f"be changed for lists with processingType MANUAL or SNAPSHOT.",
                                   context={"listId": [list_id]})
        return item

    def record_ids(raw: object, what: str) -> list[str]:
        if not isinstance(raw, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in raw):
            raise validation_error(f"Invalid input JSON: {what} must be a JSON array of record ids.")
        return [str(x) for x in raw]

    def check_size(request: Request, count: int) -> None:
        request.state.records = count
        maximum = int(emu.settings.get("list_membership_max", DEFAULT_MEMBERSHIP_MAX))
        if count > maximum:
            raise validation_error(f"{count} record ids in one membership call exceeds the limit of {maximum}.",
                                   context={"recordIds": [str(count)], "limit": [str(maximum)]})

    def change(item: HubList, add: list[str], remove: list[str]) -> dict:
        store = emu.store(OBJECT_TYPE_IDS[item.object_type_id])
        added, removed, missing = [], [], []
        stamp = now_ms()
        for rid in remove:
            if store.find(rid, follow_merges=False) is None:
                missing.append(rid)
            elif item.members.pop(rid, None) is not None:
                removed.append(rid)
        for rid in add:
            if store.find(rid, follow_merges=False) is None:
                missing.append(rid)
            elif rid not in item.members:
                item.members[rid] = stamp
                added.append(rid)
        if added or removed:
            item.touch()
        return {"recordIdsRemoved": removed, "recordsIdsAdded": added, "recordIdsAdded": added,
                "recordIdsMissing": missing}

    @router.put("/crm/v3/lists/{list_id}/memberships/add")
    async def add(list_id: str, request: Request):
        ids = record_ids(await read_json(request), "the body")
        check_size(request, len(ids))
        with emu.lock:
            return change(writable(list_id), ids, [])

    @router.put("/crm/v3/lists/{list_id}/memberships/remove")
    async def remove(list_id: str, request: Request):
        ids = record_ids(await read_json(request), "the body")
        check_size(request, len(ids))
        with emu.lock:
            return change(writable(list_id), [], ids)

    @router.put("/crm/v3/lists/{list_id}/memberships/add-and-remove")
    async def add_and_remove(list_id: str, request: Request):
        body = await read_object(request)
        to_add = record_ids(body.get("recordIdsToAdd", []), "recordIdsToAdd")
        to_remove = record_ids(body.get("recordIdsToRemove", []), "recordIdsToRemove")
        check_size(request, len(to_add) + len(to_remove))
        with emu.lock:
            return change(writable(list_id), to_add, to_remove)

    @router.delete("/crm/v3/lists/{list_id}/memberships")
    async def remove_all(list_id: str):
        with emu.lock:
            item = writable(list_id)
            item.members.clear()
            item.touch()
            return Response(status_code=204)

    @router.get("/crm/v3/lists/{list_id}/memberships")
    async def page_memberships(list_id: str, request: Request):
        with emu.lock:
            item = get_list(list_id)
            limit = query_int(request, "limit", MEMBERSHIP_PAGE_DEFAULT, MEMBERSHIP_PAGE_MAX)
            ids = members(item)
            after = request.query_params.get("after")
            start = 0
            if after:
                if not after.isdigit():
                    raise validation_error(f"after={after!r} is not a valid paging cursor.")
                start = bisect_left(ids, int(after), key=int)
            page = ids[start:start + limit]
            request.state.records = len(page)
            body = {"results": [{"recordId": rid, "membershipTimestamp": iso_ms(item.members[rid])} for rid in page],
                    "total": len(ids)}
            if start + limit < len(ids):
                body["paging"] = {"next": {"after": ids[start + limit]}}
            return body

    @router.get("/crm/v3/lists/records/{object_type_id}/{record_id}/memberships")
    async def record_memberships(object_type_id: str, record_id: str):
        with emu.lock:
            found = [x for x in emu.state.lists.values() if x.deleted_ms is None
                     and x.object_type_id == object_type_id and record_id in set(members(x))]
            return JSONResponse({"results": [
                {"listId": x.list_id, "listVersion": x.version, "firstAddedTimestamp": iso_ms(x.members[record_id]),
                 "lastAddedTimestamp": iso_ms(x.members[record_id])} for x in found], "total": len(found)})

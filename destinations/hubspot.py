"""HubSpot destination: one MANUAL company list per segment, plus optional owned company properties."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from destinations.audiences import (
    DEFAULT_LIST_TEMPLATE,
    batch_size,
    check_mode,
    check_template,
    company_membership_sql,
    credential_key,
    register_targets,
    segment_targets,
    target_claims,
    temp_table,
)
from destinations.hubspot_wire import (
    COMPANY_OBJECT_TYPE_ID,
    HUBSPOT_RULES,
    LIST_MEMBERSHIP_MAX,
    PROPERTY_BATCH_MAX,
    PropertyValueError,
    batch_update_results,
    encode_property,
    error_code,
    error_message,
    membership_results,
)
from destinations.vendor_errors import classify_error, json_body, retry_after_seconds
from segsync.errors import FatalError, InputError, Problem, RemoteError, RetryableError
from segsync.retry import RetryPolicy, call_with_retry, limiter_for
from segsync.sync.protocol import BatchRejected, Change, Op, Result
from segsync.sync.targets import Ownership, TargetBase, routed_segments

MEMBERSHIP_PAGE_MAX = 250  # documented maximum `limit` of GET /crm/v3/lists/{id}/memberships
COMPANIES = "companies"  # the target name of company property rows
CONTACTS = "contacts"  # the target name of contact property rows
# object type -> (segsync.yaml key of its owned properties, the id column that keys its records)
PROPERTY_OBJECTS = {COMPANIES: ("properties", "accounts.hubspot_company_id"),
                    CONTACTS: ("contact_properties", "contacts.hubspot_contact_id")}
PROPERTY_KINDS = {"segments": "enumeration", "member": "bool", "entered_at": "date"}
DEFAULT_RATE = (90, 10.0)  # below HubSpot's documented 100 requests per 10 seconds per private app
DEFAULT_TIMEOUT = 30.0  # seconds per request; a timed-out call is retried like a 5xx


class HubSpotDestination(TargetBase):
    """Company lists (add/remove memberships) and owned company/contact property batch updates."""

    type = "hubspot"

    def __init__(self, name: str, client: Any = None, *, client_factory: Callable[[], Any] | None = None,
                 mode: str = "membership", list_template: str = DEFAULT_LIST_TEMPLATE,
                 properties: Mapping[str, Mapping[str, Mapping]] | None = None, limiter=None,
                 list_membership_max: int = LIST_MEMBERSHIP_MAX, lists: bool = True,
                 policy: RetryPolicy = RetryPolicy(), timeout: float = DEFAULT_TIMEOUT):
        self.name = name
        self._client = client
        self._client_factory = client_factory
        self.mode = mode
        self.list_template = list_template
        self.properties = {obj: {k: dict(v) for k, v in props.items()}
                           for obj, props in (properties or {}).items() if props}  # object -> property -> spec
        self.limiter = limiter
        self.list_membership_max = list_membership_max
        self.lists = lists
        self.timeout = timeout
        self.policy = policy
        self.list_ids: dict[str, str] = {}
        self.definitions: dict[tuple[str, str], dict] = {}
        self._apis: dict[str, Any] = {}

    # -- construction and planning --------------------------------------------------------------------
    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any], env: Mapping[str, str]) -> "HubSpotDestination":
        from segsync.clients.hubspot import make_hubspot

        mode = check_mode(name, settings)
        template = check_template(name, settings.get("list_name", DEFAULT_LIST_TEMPLATE))
        properties = {obj: parse_properties(name, key, settings.get(key) or {})
                      for obj, (key, _column) in PROPERTY_OBJECTS.items()}
        calls, per = (settings.get("rate_limit") or {}).get("calls", DEFAULT_RATE[0]), \
            (settings.get("rate_limit") or {}).get("per_seconds", DEFAULT_RATE[1])
        token = env.get("HUBSPOT_ACCESS_TOKEN")
        limiter = limiter_for(credential_key("hubspot", token), int(calls), float(per))
        lists = settings.get("lists", True)
        if not isinstance(lists, bool) or not (lists or any(properties.values())):
            raise InputError([Problem("segsync.yaml", "lists must be true or false, and false needs properties",
                                      path=f"destinations.{name}.lists", value=lists,
                                      expected="true (one MANUAL list per segment) or false with properties:")])
        env = dict(env)
        return cls(name, client_factory=lambda: without_hidden_retries(make_hubspot(env)), mode=mode,
                   list_template=template,
                   properties=properties, limiter=limiter, lists=lists,
                   timeout=float(settings.get("timeout_seconds", DEFAULT_TIMEOUT)),
                   list_membership_max=batch_size(name, settings, "list_batch_size", LIST_MEMBERSHIP_MAX))

    def list_names(self, segments: Any) -> dict[str, str]:
        if not self.lists:
            return {}
        return segment_targets(segments, self.name, self.list_template, "list_name")

    def claims(self, segments: Any) -> dict[str, list[str]]:
        claims = target_claims(self.list_names(segments))
        for obj, props in self.properties.items():
            for prop, spec in props.items():
                if spec.get("segment"):
                    claims.setdefault(f"{obj}.{prop}", []).append(spec["segment"])
        return claims

    def check(self, segments: Any) -> list[Problem]:
        """Every member/entered_at property must name a segment routed to this destination."""
        routed = {r.name for r in routed_segments(segments, self.name)}
        return [Problem("segsync.yaml", "the property names a segment that does not sync here",
                        path=f"destinations.{self.name}.{PROPERTY_OBJECTS[obj][0]}.{prop}.segment",
                        value=spec["segment"], expected=" / ".join(sorted(routed)) or "a segment routed here")
                for obj, props in self.properties.items() for prop, spec in props.items()
                if spec.get("segment") and spec["segment"] not in routed]

    def ownership(self, segments: Any) -> Ownership:
        targets = set(self.list_names(segments).values()) | set(self.properties)
        fields = frozenset(prop for props in self.properties.values() for prop in props)
        return Ownership(targets=frozenset(targets), fields=fields, clearable=fields)

    def desired(self, con: duckdb.DuckDBPyConnection, segments: Any) -> duckdb.DuckDBPyRelation:
        view = register_targets(con, self.name, self.list_names(segments))
        sql = company_membership_sql(view, "hubspot_company_id")
        for obj in self.properties:
            sql += " UNION ALL " + self._properties_sql(con, obj)
        return con.sql(sql)

    def _properties_sql(self, con: duckdb.DuckDBPyConnection, obj: str) -> str:
        """One row per company/contact whose payload holds every owned property (segments, flag, entered date).

        A contact carries its account's segments. Table/column names here are code constants, never config.
        """
        props = self.properties[obj]
        suffix = "".join(ch if ch.isalnum() else "_" for ch in self.name.lower())
        props_view = temp_table(con, f"segsync_props_{obj}_{suffix}", pa.table({
            "property": pa.array(list(props), pa.string()),
            "kind": pa.array([p["value"] for p in props.values()], pa.string()),
            "segment": pa.array([p.get("segment") for p in props.values()], pa.string()),
        }))
        key = PROPERTY_OBJECTS[obj][1]
        source = ("sync_members m JOIN accounts ON accounts.account_id = m.account_id" if obj == COMPANIES else
                  "sync_members m JOIN contacts ON contacts.account_id = m.account_id")
        history = ("SELECT account_id, segment, max(entered_at) AS entered_at FROM segment_history "
                   "WHERE exited_at IS NULL GROUP BY ALL") if has_table(con, "segment_history") else \
            "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS segment, NULL::TIMESTAMP AS entered_at WHERE false"
        return f"""
            SELECT '{obj}' AS target, c.record_key, c.account_id,
                   json_group_object(p.property, CASE p.kind
                       WHEN 'segments' THEN to_json(c.segs)
                       WHEN 'member' THEN to_json(list_contains(c.segs, p.segment))
                       ELSE to_json(CAST(h.entered_at AS DATE)) END) AS payload,
                   any_value(c.segs) AS segments
            FROM (SELECT CAST({key} AS VARCHAR) AS record_key, min(m.account_id) AS account_id,
                         list_sort(list(DISTINCT m.segment)) AS segs
                  FROM {source}
                  WHERE {key} IS NOT NULL AND CAST({key} AS VARCHAR) <> ''
                  GROUP BY 1) c
            CROSS JOIN {props_view} p
            LEFT JOIN ({history}) h ON h.account_id = c.account_id AND h.segment = p.segment
                                     AND list_contains(c.segs, p.segment)
            GROUP BY c.record_key, c.account_id
        """

    def change_for(self, op: Op, target: str, key: str, new: Mapping | None, old: Mapping | None,
                   account_id: str | None) -> Change:
        """Property rows: a remove clears every owned property; an update sends only the changed ones."""
        if target not in self.properties:
            return Change(target=target, key=key, op=op, new=new, old=old, account_id=account_id)
        if op == "remove":
            cleared = {name: (False if spec["value"] == "member" else None)
                       for name, spec in self.properties[target].items()}
            return Change(target=target, key=key, op="update", new=cleared, old=old, account_id=account_id)
        if op == "update" and old:
            changed = {k: v for k, v in (new or {}).items() if old.get(k) != v or k not in old}
            return Change(target=target, key=key, op="update", new=changed or dict(new or {}), old=old,
                          account_id=account_id)
        return Change(target=target, key=key, op="update", new=new, old=old, account_id=account_id)

    # -- sending ----------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """hubspot-api-client, built on first use (planning and `segsync validate` need no credentials)."""
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def api(self, name: str) -> Any:
        """One client API object per run (each attribute walk of hubspot-api-client builds a new connection pool)."""
        if name not in self._apis:
            crm = self.client.crm
            self._apis[name] = {"lists": lambda: crm.lists.lists_api,
                                "memberships": lambda: crm.lists.memberships_api,
                                "companies_batch": lambda: crm.companies.batch_api,
                                "contacts_batch": lambda: crm.contacts.batch_api,
                                "companies": lambda: crm.companies.basic_api,
                                "properties": lambda: crm.properties.core_api}[name]()
        return self._apis[name]

    def prepare(self, targets: Sequence[str]) -> None:
        for target in targets:
            if target in self.properties:
                self._load_definitions(target)
            else:
                self.list_id(target)

    def batch_key(self, change: Change) -> Hashable:
        if change.target in self.properties:
            return (change.target, "update")
        return (change.target, change.op)

    def max_batch(self, key: Hashable) -> int:
        return PROPERTY_BATCH_MAX if key[0] in self.properties else self.list_membership_max

    def send(self, key: Hashable, batch: Sequence[Change]) -> list[Result]:
        target, op = key
        if target in self.properties:
            return self._send_properties(target, batch)
        list_id = self.list_id(target)
        ids = [c.key for c in batch]
        api = self.api("memberships")
        call = api.remove if op == "remove" else api.add
        body = self._call(lambda: call(list_id, ids, _preload_content=False, _request_timeout=self.timeout))
        return [self._redirected(r) if r.code == "RECORD_MISSING" else r for r in membership_results(batch, body, op)]

    def _redirected(self, result: Result) -> Result:
        """A company id HubSpot reports missing may have been merged: point the change at the survivor."""
        try:
            found = self._call_with_retry(lambda: self.api("companies").get_by_id(
                result.key, properties=["hs_object_id"], _preload_content=False, _request_timeout=self.timeout))
        except RemoteError as exc:
            if exc.status == 404:
                return result
            raise
        survivor = str(found.get("id") or "")
        if survivor and survivor != result.key:
            return Result(result.target, result.key, "retry", error=f"merged into company {survivor}",
                          code="MERGED", redirect_to=survivor)
        return result

    def _send_properties(self, obj: str, batch: Sequence[Change]) -> list[Result]:
        """One batch update of owned properties; values that cannot be encoded are rejected before sending."""
        self._load_definitions(obj)
        owned = self.properties[obj]
        inputs, rejected = [], []
        for change in batch:
            try:
                values = {name: encode_property(name, value, self.definitions[(obj, name)])
                          for name, value in (change.new or {}).items() if name in owned}
            except PropertyValueError as exc:
                rejected.append(Result(change.target, change.key, "rejected", error=str(exc), code="INVALID_VALUE"))
                continue
            inputs.append({"id": change.key, "properties": values})
        if not inputs:
            return rejected
        api = self.api(f"{obj}_batch")
        body = self._call(lambda: api.update({"inputs": inputs}, _preload_content=False,
                                             _request_timeout=self.timeout))
        sent = [c for c in batch if c.key in {i["id"] for i in inputs}]
        return rejected + batch_update_results(sent, body)

    def list_id(self, name: str) -> str:
        """The id of the MANUAL company list `name`: looked up by name, created only when absent."""
        if name in self.list_ids:
            return self.list_ids[name]
        lists_api = self.api("lists")
        try:
            found = self._call_with_retry(lambda: lists_api.get_by_name(
                name, COMPANY_OBJECT_TYPE_ID, _preload_content=False, _request_timeout=self.timeout))
        except RemoteError as exc:
            if exc.status != 404:
                raise
            try:
                found = self._call_with_retry(lambda: lists_api.create(
                    {"name": name, "objectTypeId": COMPANY_OBJECT_TYPE_ID, "processingType": "MANUAL"},
                    _preload_content=False, _request_timeout=self.timeout))
            except BatchRejected as refused:  # e.g. the name is taken by a contact list
                raise FatalError(f"HubSpot refused to create the company list {name!r}: {refused} (rename it with "
                                 f"list_name in segsync.yaml)", status=refused.status, code=refused.code) from refused
        listing = found.get("list") or found
        if listing.get("processingType") not in (None, "MANUAL"):
            raise FatalError(f"HubSpot list {name!r} exists but is {listing.get('processingType')}; segsync only "
                             "writes MANUAL lists it creates (rename the list or change list_name)")
        self.list_ids[name] = str(listing["listId"])
        return self.list_ids[name]

    def find_list_id(self, name: str) -> str | None:
        """The id of the company list `name`, or None when there is none; read calls only (never created)."""
        if name in self.list_ids:
            return self.list_ids[name]
        try:
            found = self._call_with_retry(lambda: self.api("lists").get_by_name(
                name, COMPANY_OBJECT_TYPE_ID, _preload_content=False, _request_timeout=self.timeout))
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise
        listing = found.get("list") or found
        return str(listing["listId"])

    def observable_targets(self, targets: Sequence[str]) -> list[str]:
        """Targets observe() reads: the owned lists (owned property values are not compared yet)."""
        return [t for t in targets if t not in self.properties]

    def observe(self, targets: Sequence[str], keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """(list, company id) of every member each owned list holds now: memberships paged 250 per read call."""
        api = self.api("memberships")
        held: set[tuple[str, str]] = set()
        for name in self.observable_targets(targets):
            list_id = self.find_list_id(name)
            if list_id is None:
                continue
            after = None
            while True:
                page = self._call_with_retry(lambda a=after: api.get_page(
                    list_id, after=a, limit=MEMBERSHIP_PAGE_MAX, _preload_content=False,
                    _request_timeout=self.timeout))
                held.update((name, str(r["recordId"])) for r in page.get("results") or [])
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        return held

    def _load_definitions(self, obj: str) -> None:
        """Read each owned property's definition once (type, fieldType, enumeration options)."""
        core = self.api("properties")
        for name, spec in self.properties[obj].items():
            if (obj, name) in self.definitions:
                continue
            try:
                found = self._call_with_retry(lambda n=name: core.get_by_name(
                    obj, n, _preload_content=False, _request_timeout=self.timeout))
            except RemoteError as exc:
                if exc.status == 404:
                    raise FatalError(f"HubSpot {obj} property {name!r} does not exist; create it as a "
                                     f"{PROPERTY_KINDS[spec['value']]} property before syncing") from exc
                raise
            expected = PROPERTY_KINDS[spec["value"]]
            if found.get("type") != expected:
                raise FatalError(f"HubSpot {obj} property {name!r} is of type {found.get('type')!r}; "
                                 f"{spec['value']!r} values need a {expected} property")
            self.definitions[(obj, name)] = found

    def _call_with_retry(self, fn):
        return call_with_retry(lambda: self._call(fn), policy=self.policy, limiter=self.limiter,
                               reauth=self.reauthenticate)

    def _call(self, fn) -> dict:
        """Run one client call; return its JSON body, or raise the classified error of the one hierarchy."""
        from urllib3.exceptions import HTTPError as TransportError

        try:
            response = fn()
        except TransportError as exc:
            raise RetryableError(f"HubSpot: transport error: {type(exc).__name__}") from exc
        except Exception as exc:  # the client raises one ApiException class per API module
            status = getattr(exc, "status", None)
            if status is None:
                raise
            if status == 0:
                raise RetryableError(f"HubSpot: connection failed: {getattr(exc, 'reason', '')}") from exc
            body = json_body(getattr(exc, "body", None))
            raise _hubspot_error(status, body, getattr(exc, "headers", None), exc) from exc
        raw = response.data if hasattr(response, "data") else response
        return json_body(raw)


def _hubspot_error(status: int, body: dict, headers, exc: Exception) -> RemoteError:
    return classify_error("HubSpot", status, error_code(body), error_message(body, str(getattr(exc, "reason", ""))),
                          rules=HUBSPOT_RULES, retry_after=retry_after_seconds(headers))


def parse_properties(name: str, key: str, raw: Mapping[str, Any]) -> dict[str, dict]:
    """Validate `properties:` / `contact_properties:` — property -> {value: segments|member|entered_at, segment}."""
    problems, parsed = [], {}
    if not isinstance(raw, Mapping):
        raise InputError([Problem("segsync.yaml", f"{key} must be a mapping of property name to spec",
                                  path=f"destinations.{name}.{key}", value=raw)])
    for prop, spec in raw.items():
        path = f"destinations.{name}.{key}.{prop}"
        spec = {"value": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, Mapping) or spec.get("value") not in PROPERTY_KINDS:
            problems.append(Problem("segsync.yaml", "unknown property value kind", path=path, value=spec,
                                    expected="value: " + " | ".join(PROPERTY_KINDS)))
            continue
        if spec["value"] != "segments" and not spec.get("segment"):
            problems.append(Problem("segsync.yaml", f"a {spec['value']} property names its segment",
                                    path=f"{path}.segment", expected="segment: <segment name>"))
            continue
        parsed[str(prop)] = {"value": spec["value"], "segment": spec.get("segment")}
    if problems:
        raise InputError(problems)
    return parsed


def without_hidden_retries(client: Any) -> Any:
    """Turn off urllib3's own retries (it would replay 429/503 with Retry-After behind segsync.retry's back)."""
    from urllib3.util.retry import Retry

    client.config["retry"] = Retry(total=0, connect=0, read=0, status=0, redirect=0,
                                   respect_retry_after_header=False, raise_on_status=False)
    return client


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table or view exists (fetchall: a half-read result would block later relation work)."""
    rows = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()
    return bool(rows[0][0])

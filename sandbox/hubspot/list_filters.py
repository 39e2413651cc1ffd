"""DYNAMIC list filters: validate a filterBranch (OR root of AND branches of PROPERTY filters) and evaluate it."""
from __future__ import annotations

from sandbox.hubspot.errors import validation_error
from sandbox.hubspot.records import ObjectStore, Record

OPERATORS = {"IS_EQUAL_TO", "IS_NOT_EQUAL_TO", "IS_ANY_OF", "IS_NONE_OF", "IS_KNOWN", "IS_UNKNOWN", "CONTAINS",
             "DOES_NOT_CONTAIN", "IS_GREATER_THAN", "IS_GREATER_THAN_OR_EQUAL_TO", "IS_LESS_THAN",
             "IS_LESS_THAN_OR_EQUAL_TO"}
VALUELESS = {"IS_KNOWN", "IS_UNKNOWN"}
MULTI = {"IS_ANY_OF", "IS_NONE_OF"}


def validate_branch(store: ObjectStore, branch: object) -> None:
    """The documented shape: root OR branch, child AND branches, each with PROPERTY filters on known properties."""
    if not isinstance(branch, dict) or branch.get("filterBranchType") != "OR":
        raise validation_error("filterBranch: the root branch must have filterBranchType OR.")
    children = branch.get("filterBranches") or []
    if branch.get("filters"):
        raise validation_error("filterBranch: the root OR branch cannot hold filters; put them in AND branches.")
    if not children:
        raise validation_error("filterBranch: the root OR branch needs at least one AND branch in filterBranches.")
    for bi, child in enumerate(children):
        where = f"filterBranch.filterBranches[{bi}]"
        if not isinstance(child, dict) or child.get("filterBranchType") != "AND":
            raise validation_error(f"{where}: child branches of the root must have filterBranchType AND.")
        for fi, flt in enumerate(child.get("filters") or []):
            _validate_filter(store, flt, f"{where}.filters[{fi}]")


def _validate_filter(store: ObjectStore, flt: object, where: str) -> None:
    if not isinstance(flt, dict) or flt.get("filterType") != "PROPERTY":
        raise validation_error(f"{where}: this sandbox evaluates filterType PROPERTY filters only.")
    name = flt.get("property")
    if name not in store.registry.props:
        raise validation_error(f"{where}: property {name!r} does not exist on {store.object_type}.")
    operation = flt.get("operation")
    if not isinstance(operation, dict) or operation.get("operator") not in OPERATORS:
        raise validation_error(f"{where}.operation.operator must be one of {sorted(OPERATORS)}.")
    operator = operation["operator"]
    if operator in MULTI and not isinstance(operation.get("values"), list):
        raise validation_error(f"{where}.operation: operator {operator} needs a `values` list.")
    if operator not in MULTI | VALUELESS and operation.get("value") is None:
        raise validation_error(f"{where}.operation: operator {operator} needs a `value`.")


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _matches(record: Record, flt: dict) -> bool:
    operation = flt["operation"]
    operator = operation["operator"]
    stored = record.props.get(flt["property"])
    if operator == "IS_KNOWN":
        return stored is not None
    if operator == "IS_UNKNOWN":
        return stored is None
    if operator in MULTI:
        wanted = {str(v).lower() for v in operation["values"]}
        parts = {p.lower() for p in (stored or "").split(";") if p}
        return bool(parts & wanted) if operator == "IS_ANY_OF" else not parts & wanted
    value = str(operation["value"]).lower()
    text = (stored or "").lower()
    if operator == "IS_EQUAL_TO":
        return stored is not None and text == value
    if operator == "IS_NOT_EQUAL_TO":
        return text != value
    if operator == "CONTAINS":
        return value in text
    if operator == "DOES_NOT_CONTAIN":
        return value not in text
    left, right = _number(stored), _number(operation["value"])
    if left is None or right is None:
        return False
    return {"IS_GREATER_THAN": left > right, "IS_GREATER_THAN_OR_EQUAL_TO": left >= right,
            "IS_LESS_THAN": left < right, "IS_LESS_THAN_OR_EQUAL_TO": left <= right}[operator]


def evaluate(store: ObjectStore, branch: dict) -> list[str]:
    """Ids of active records matching any AND branch, ascending."""
    groups = [child.get("filters") or [] for child in branch["filterBranches"]]
    out = []
    for rid in store.sorted_ids:
        record = store.records[str(rid)]
        if not record.archived and any(all(_matches(record, f) for f in group) for group in groups):
            out.append(record.id)
    return out

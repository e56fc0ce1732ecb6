"""TablesDB behaviour: columns and their validation (utopia-php/database's Structure validator), the row models,
queries (Appwrite's JSON query strings) and the permission checks on rows.

Strings compare as MariaDB's default utf8mb4 *_ci collations do: without regard to case (equality, ordering,
unique indexes and row ids alike), and NULL never satisfies a comparison (``notEqual`` included), as in SQL.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import ApiError
from .state import (
    COUNT_LIMIT,
    LIST_DEFAULT_LIMIT,
    Column,
    Database,
    Index,
    Row,
    Table,
    format_time,
    parse_time,
    roles_of_permissions,
)

SYSTEM_ATTRIBUTES = ("$id", "$sequence", "$tableId", "$databaseId", "$createdAt", "$updatedAt", "$permissions")
QUERYABLE_SYSTEM = {"$id": "string", "$sequence": "integer", "$createdAt": "datetime", "$updatedAt": "datetime"}
TEXT_SIZES = {"text": 65535, "mediumtext": 16777215, "longtext": 4294967295}
INT_MAX = 9223372036854775807
FLOAT_MAX = 1.7976931348623157e308

# The kinds of the create-column endpoints → (model type, format).
COLUMN_KINDS: dict[str, tuple[str, str]] = {
    "varchar": ("varchar", ""),
    "string": ("string", ""),
    "text": ("text", ""),
    "mediumtext": ("mediumtext", ""),
    "longtext": ("longtext", ""),
    "integer": ("integer", "intRange"),
    "float": ("double", "floatRange"),
    "boolean": ("boolean", ""),
    "datetime": ("datetime", "datetime"),
    "enum": ("string", "enum"),
    "email": ("string", "email"),
    "url": ("string", "url"),
    "ip": ("string", "ip"),
}
# Model schema of each column in the spec, by (type, format).
COLUMN_SCHEMAS = {
    ("varchar", ""): "columnVarchar",
    ("string", ""): "columnString",
    ("text", ""): "columnText",
    ("mediumtext", ""): "columnMediumtext",
    ("longtext", ""): "columnLongtext",
    ("integer", "intRange"): "columnInteger",
    ("double", "floatRange"): "columnFloat",
    ("boolean", ""): "columnBoolean",
    ("datetime", "datetime"): "columnDatetime",
    ("string", "enum"): "columnEnum",
    ("string", "email"): "columnEmail",
    ("string", "url"): "columnUrl",
    ("string", "ip"): "columnIp",
}


def row_key(row_id: str) -> str:
    """Rows are found by id without regard to case (the _uid column's *_ci collation)."""
    return row_id.lower()


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# ---------------------------------------------------------------------------------------------------------------
# Models


def database_model(db: Database) -> dict[str, Any]:
    return {
        "$id": db.id,
        "name": db.name,
        "$createdAt": db.created_at,
        "$updatedAt": db.updated_at,
        "enabled": db.enabled,
        "type": "tablesdb",
        "description": "",  # SDK 27's Database model has it (not in the 1.9.3 spec)
    }


def column_model(column: Column) -> dict[str, Any]:
    model: dict[str, Any] = {
        "key": column.key,
        "type": column.type,
        "status": column.status,
        "error": "",
        "required": column.required,
        "array": column.array,
        "$createdAt": column.created_at,
        "$updatedAt": column.updated_at,
        "description": "",  # SDK 27
        "default": column.default,
    }
    if column.type in ("varchar", "string") and column.format in ("", None):
        model["size"] = column.size
        model["encrypt"] = bool(column.encrypt)
    if column.type in ("text", "mediumtext", "longtext"):
        model["encrypt"] = bool(column.encrypt)
    if column.format in ("intRange", "floatRange"):
        model["min"], model["max"] = column.min, column.max
    if column.format in ("enum", "email", "url", "ip", "datetime"):
        model["format"] = column.format
    if column.format == "enum":
        model["elements"] = list(column.elements or [])
    return model


def column_schema_name(column: Column) -> str:
    return COLUMN_SCHEMAS[(column.type, column.format)]


def index_model(index: Index) -> dict[str, Any]:
    return {
        "$id": index.key,
        "$createdAt": index.created_at,
        "$updatedAt": index.updated_at,
        "key": index.key,
        "type": index.type,
        "status": index.status,
        "error": index.error,
        "columns": list(index.columns),
        "lengths": list(index.lengths),
        "orders": list(index.orders),
        "description": "",  # SDK 27
    }


def table_model(table: Table) -> dict[str, Any]:
    return {
        "$id": table.id,
        "$createdAt": table.created_at,
        "$updatedAt": table.updated_at,
        "$permissions": list(table.permissions),
        "databaseId": table.database_id,
        "name": table.name,
        "enabled": table.enabled,
        "rowSecurity": table.row_security,
        "columns": [column_model(c) for c in table.columns.values()],
        "indexes": [index_model(i) for i in table.indexes.values()],
        "bytesMax": 65535,
        "bytesUsed": 0,
        "description": "",  # SDK 27
    }


def row_model(table: Table, row: Row, select: list[str] | None = None) -> dict[str, Any]:
    model: dict[str, Any] = {
        "$id": row.id,
        "$sequence": str(row.sequence),
        "$tableId": table.id,
        "$databaseId": table.database_id,
        "$createdAt": row.created_at,
        "$updatedAt": row.updated_at,
        "$permissions": list(row.permissions),
    }
    for key in table.columns:
        if select is None or key in select:
            model[key] = row.data.get(key)
    return model


# ---------------------------------------------------------------------------------------------------------------
# Columns


def make_column(kind: str, params: dict[str, Any], now: str) -> Column:
    """A column from the body of POST .../columns/<kind> (or from appwrite.config.json)."""
    model_type, fmt = COLUMN_KINDS[kind]
    key = params.get("key")
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,35}", key):
        raise ApiError("general_argument_invalid", "Invalid `key` param: Parameter must be a valid key.")
    required = bool(params.get("required", False))
    array = bool(params.get("array", False))
    default = params.get("default")
    if default is not None and (required or array):
        raise ApiError("column_default_unsupported")
    column = Column(key, model_type, required, array, now, now, format=fmt, default=default)
    column.encrypt = params.get("encrypt")
    if kind in ("varchar", "string"):
        size = params.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ApiError("general_argument_invalid", 'Param "size" is not optional.')
        column.size = size
    elif model_type in TEXT_SIZES:
        column.size = TEXT_SIZES[model_type]
    elif kind == "enum":
        elements = params.get("elements")
        if not isinstance(elements, list) or not elements or not all(isinstance(e, str) and e for e in elements):
            raise ApiError("general_argument_invalid", "Invalid `elements` param: Value must a valid array.")
        column.elements = list(elements)
        column.size = max(len(e) for e in elements)
    elif kind in ("integer", "float"):
        limit = INT_MAX if kind == "integer" else FLOAT_MAX
        lo = params.get("min")
        hi = params.get("max")
        column.min = -limit if lo is None else (int(lo) if kind == "integer" else float(lo))
        column.max = limit if hi is None else (int(hi) if kind == "integer" else float(hi))
        if column.min > column.max:
            raise ApiError("general_argument_invalid", "Minimum value must be lesser than maximum value")
    elif kind in ("email", "url", "ip"):
        column.size = 254 if kind == "email" else 2000 if kind == "url" else 39
    if default is not None:
        problem = _value_problem(column, default)
        if problem:
            raise ApiError("column_value_invalid", f"Default value {problem}")
        if model_type == "datetime":
            column.default = format_time(parse_time(default))
        elif model_type == "double":
            column.default = float(default)
    return column


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _value_problem(column: Column, value: Any) -> str | None:
    """Why ``value`` is not valid for ``column`` (Structure's messages, shortened), or None."""
    t = column.type
    if t in ("varchar", "string", "text", "mediumtext", "longtext"):
        if not isinstance(value, str):
            return "must be a valid string"
        size = column.size or 0
        length = len(value) if t in ("varchar", "string") else len(value.encode("utf-8"))
        if length > size:
            return f"must be a valid string and no longer than {size} chars"
        if column.format == "enum" and value not in (column.elements or []):
            return f"must be one of ({', '.join(column.elements or [])})"
        if column.format == "email" and not _EMAIL.match(value):
            return "must be a valid email address"
        if column.format == "url" and not re.match(r"^https?://[^\s/]+", value):
            return "must be a valid URL"
        if column.format == "ip" and not re.match(r"^[0-9A-Fa-f:.]+$", value):
            return "must be a valid IP address"
        return None
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be a valid integer"
        if column.min is not None and column.max is not None and not column.min <= value <= column.max:
            return f"must be a valid range between {column.min:,} and {column.max:,}"
        return None
    if t == "double":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return "must be a valid float"
        if column.min is not None and column.max is not None and not column.min <= value <= column.max:
            return f"must be a valid range between {column.min:,} and {column.max:,}"
        return None
    if t == "boolean":
        return None if isinstance(value, bool) else "must be a valid boolean"
    if t == "datetime":
        if not isinstance(value, str):
            return "must be valid date between 0000-01-01 00:00:00 and 9999-12-31 23:59:59."
        try:
            parse_time(value)
        except ValueError:
            return "must be valid date between 0000-01-01 00:00:00 and 9999-12-31 23:59:59."
        return None
    return f"has unknown type {t}"


def _normalise(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.array:
        return [_normalise_one(column, v) for v in value]
    return _normalise_one(column, value)


def _normalise_one(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type == "datetime":
        return format_time(parse_time(value))
    if column.type == "double":
        return float(value)
    return value


def structure_error(table: Table, document: dict[str, Any]) -> str | None:
    """utopia-php/database's Structure validator on a whole row (system attributes removed): required columns,
    then unknown attributes, then values. The message as Appwrite returns it, or None when valid."""
    for column in table.columns.values():
        if column.required and document.get(column.key) is None:
            return f'Invalid document structure: Missing required attribute "{column.key}"'
    for key in document:
        if key not in table.columns:
            return f'Invalid document structure: Unknown attribute: "{key}"'
    for key, value in document.items():
        column = table.columns[key]
        if value is None and not column.required:
            continue
        label = "format" if column.format and column.format not in ("intRange", "floatRange") else "type"
        if column.array:
            if not column.required and value == []:
                continue
            if not isinstance(value, list):
                return f'Invalid document structure: Attribute "{key}" must be an array'
            for i, item in enumerate(value):
                if item is None and not column.required:
                    continue
                problem = _value_problem(column, item)
                if problem:
                    return (
                        f"Invalid document structure: Attribute \"{key}['{i}']\" has invalid {label}. Value {problem}"
                    )
            continue
        problem = _value_problem(column, value)
        if problem:
            return f'Invalid document structure: Attribute "{key}" has invalid {label}. Value {problem}'
    return None


def complete_data(table: Table, document: dict[str, Any]) -> dict[str, Any]:
    """Every column present, normalised; optional ones left out take their default (or null)."""
    out: dict[str, Any] = {}
    for key, column in table.columns.items():
        out[key] = _normalise(column, document[key]) if key in document else column.default
    return out


def unique_violation(table: Table, data: dict[str, Any], row_id: str, rows: dict[str, Row]) -> bool:
    for index in table.indexes.values():
        if index.type != "unique" or index.status != "available":
            continue
        values = [data.get(c) for c in index.columns]
        if any(v is None for v in values):
            continue
        folded = [_fold(v) for v in values]
        for other in rows.values():
            if row_key(other.id) != row_key(row_id) and [_fold(other.data.get(c)) for c in index.columns] == folded:
                return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# Permissions on rows


def allowed(roles: set[str], permission_roles: set[str]) -> bool:
    return bool(roles & permission_roles)


def table_allows(table: Table, kind: str, roles: set[str]) -> bool:
    return allowed(roles, roles_of_permissions(table.permissions, kind))


def row_allows(table: Table, row: Row, kind: str, roles: set[str]) -> bool:
    """Table-level permission, or (with row security) the row's own."""
    if table_allows(table, kind, roles):
        return True
    return table.row_security and allowed(roles, roles_of_permissions(row.permissions, kind))


# ---------------------------------------------------------------------------------------------------------------
# Queries


@dataclass
class Filter:
    method: str
    attribute: str
    values: list[Any]
    children: list[Filter] = field(default_factory=list)
    # The values as rows are compared with them (and as a set for ``equal``), worked out once per query.
    prepared: list[Any] | None = field(default=None, compare=False, repr=False)
    prepared_set: frozenset[Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class ParsedQueries:
    filters: list[Filter] = field(default_factory=list)
    orders: list[tuple[str, str]] = field(default_factory=list)  # (attribute, ASC|DESC)
    limit: int = LIST_DEFAULT_LIMIT
    offset: int = 0
    cursor: tuple[str, str] | None = None  # (after|before, row id)
    select: list[str] | None = None


FILTER_METHODS = {
    "equal",
    "notEqual",
    "lessThan",
    "lessThanEqual",
    "greaterThan",
    "greaterThanEqual",
    "isNull",
    "isNotNull",
    "between",
    "notBetween",
    "startsWith",
    "notStartsWith",
    "endsWith",
    "notEndsWith",
    "contains",
    "notContains",
    "or",
    "and",
}
OTHER_METHODS = {"orderAsc", "orderDesc", "cursorAfter", "cursorBefore", "limit", "offset", "select"}


def _invalid(message: str) -> ApiError:
    return ApiError("general_query_invalid", f"Invalid query: {message}")


def _attribute_type(table: Table, attribute: str) -> str | None:
    if attribute in QUERYABLE_SYSTEM:
        return QUERYABLE_SYSTEM[attribute]
    column = table.columns.get(attribute)
    return column.type if column else None


def _typed_value(table: Table, attribute: str, value: Any) -> Any:
    kind = _attribute_type(table, attribute)
    bad = _invalid(f'Query value is invalid for attribute "{attribute}"')
    if kind == "datetime":
        if not isinstance(value, str):
            raise bad
        try:
            return parse_time(value)
        except ValueError:
            raise bad from None
    if kind in ("integer", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise bad
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise bad
        return value
    if not isinstance(value, str):
        raise bad
    return value


def _parse_filter(table: Table, query: dict[str, Any]) -> Filter:
    method = query["method"]
    values = query.get("values", [])
    if not isinstance(values, list):
        values = [values]
    if method in ("or", "and"):
        children = [_parse_filter(table, _as_query(v)) for v in values]
        if len(children) < 2:
            raise _invalid(f"{method.capitalize()} queries require at least two queries")
        return Filter(method, "", [], children)
    attribute = query.get("attribute", "")
    kind = _attribute_type(table, attribute)
    if kind is None:
        raise _invalid(f"Attribute not found in schema: {attribute}")
    column = table.columns.get(attribute)
    if column is not None and column.array and method not in ("contains", "notContains", "isNull", "isNotNull"):
        raise _invalid(f'Cannot query {method} on attribute "{attribute}" because it is an array.')
    if method in ("isNull", "isNotNull"):
        return Filter(method, attribute, [])
    if not values:
        raise _invalid(f"{method.capitalize()} queries require at least one value.")
    if method in ("between", "notBetween") and len(values) != 2:
        raise _invalid(f"{method.capitalize()} queries require exactly two values.")
    if (
        method
        in (
            "lessThan",
            "lessThanEqual",
            "greaterThan",
            "greaterThanEqual",
            "startsWith",
            "endsWith",
            "notStartsWith",
            "notEndsWith",
        )
        and len(values) != 1
    ):
        raise _invalid(f"{method.capitalize()} queries require exactly one value.")
    if method in ("startsWith", "endsWith", "notStartsWith", "notEndsWith") and kind not in (
        "string",
        "varchar",
        "text",
        "mediumtext",
        "longtext",
    ):
        raise _invalid(f'Query value is invalid for attribute "{attribute}"')
    return Filter(method, attribute, [_typed_value(table, attribute, v) for v in values])


def _as_query(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _invalid("Syntax error") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("method"), str):
        raise _invalid("Syntax error")
    method = raw["method"]
    if method not in FILTER_METHODS | OTHER_METHODS:
        raise ApiError("general_query_invalid", f"Invalid query method: {method}")
    return raw


def parse_queries(table: Table, raw_queries: Iterable[Any]) -> ParsedQueries:
    parsed = ParsedQueries()
    limit_seen = False
    for raw in raw_queries:
        query = _as_query(raw)
        method = query["method"]
        values = query.get("values", [])
        values = values if isinstance(values, list) else [values]
        if method in FILTER_METHODS:
            parsed.filters.append(_parse_filter(table, query))
        elif method in ("orderAsc", "orderDesc"):
            attribute = query.get("attribute") or "$sequence"
            if _attribute_type(table, attribute) is None:
                raise _invalid(f"Attribute not found in schema: {attribute}")
            parsed.orders.append((attribute, "ASC" if method == "orderAsc" else "DESC"))
        elif method in ("cursorAfter", "cursorBefore"):
            if len(values) != 1 or not isinstance(values[0], str) or not values[0]:
                raise _invalid("Invalid cursor: Cursor must contain exactly one value.")
            if parsed.cursor is not None:
                raise _invalid("Invalid query: Cursor already set")
            parsed.cursor = ("after" if method == "cursorAfter" else "before", values[0])
        elif method in ("limit", "offset"):
            if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
                raise _invalid(f"Invalid {method}: Value must be a valid integer")
            number = values[0]
            if method == "limit":
                if number < 1:
                    raise _invalid(f"Invalid limit: Value must be a valid range between 1 and {INT_MAX:,}")
                if limit_seen:
                    raise _invalid("Invalid query: Limit already set")
                parsed.limit, limit_seen = number, True
            else:
                if number < 0:
                    raise _invalid(f"Invalid offset: Value must be a valid range between 0 and {INT_MAX:,}")
                parsed.offset = number
        elif method == "select":
            if not values:
                raise _invalid("No attributes selected")
            for attribute in values:
                if not isinstance(attribute, str) or (
                    attribute not in table.columns and attribute not in SYSTEM_ATTRIBUTES and attribute != "*"
                ):
                    raise _invalid(f"Attribute not found in schema: {attribute}")
            parsed.select = (parsed.select or []) + list(values)
    return parsed


def _attribute_value(row: Row, attribute: str) -> Any:
    if attribute == "$id":
        return row.id
    if attribute == "$sequence":
        return row.sequence
    if attribute == "$createdAt":
        return parse_time(row.created_at)
    if attribute == "$updatedAt":
        return parse_time(row.updated_at)
    value = row.data.get(attribute)
    return value


def _comparable(table: Table, attribute: str, value: Any) -> Any:
    if value is None:
        return None
    if _attribute_type(table, attribute) == "datetime" and isinstance(value, str):
        return parse_time(value)
    return _fold(value)


def matches(table: Table, row: Row, flt: Filter) -> bool:
    if flt.method == "or":
        return any(matches(table, row, child) for child in flt.children)
    if flt.method == "and":
        return all(matches(table, row, child) for child in flt.children)
    raw = _attribute_value(row, flt.attribute)
    if flt.method == "isNull":
        return raw is None
    if flt.method == "isNotNull":
        return raw is not None
    if raw is None:
        return False  # SQL: a comparison with NULL is never true
    column = table.columns.get(flt.attribute)
    values = flt.prepared
    if values is None:
        values = flt.prepared = [_comparable(table, flt.attribute, v) for v in flt.values]
        with contextlib.suppress(TypeError):
            flt.prepared_set = frozenset(values)
    if column is not None and column.array:
        items = [_comparable(table, flt.attribute, v) for v in raw]
        hit = any(v in items for v in values)
        return hit if flt.method == "contains" else not hit
    value = _comparable(table, flt.attribute, raw)
    method = flt.method
    try:
        if method == "equal":
            if flt.prepared_set is not None:
                return value in flt.prepared_set
            return value in values
        if method == "notEqual":
            return value not in values
        if method == "lessThan":
            return bool(value < values[0])
        if method == "lessThanEqual":
            return bool(value <= values[0])
        if method == "greaterThan":
            return bool(value > values[0])
        if method == "greaterThanEqual":
            return bool(value >= values[0])
        if method == "between":
            return bool(values[0] <= value <= values[1])
        if method == "notBetween":
            return not values[0] <= value <= values[1]
        if method == "startsWith":
            return str(value).startswith(str(values[0]))
        if method == "notStartsWith":
            return not str(value).startswith(str(values[0]))
        if method == "endsWith":
            return str(value).endswith(str(values[0]))
        if method == "notEndsWith":
            return not str(value).endswith(str(values[0]))
        if method == "contains":
            return any(str(v) in str(value) for v in values)
        if method == "notContains":
            return not any(str(v) in str(value) for v in values)
    except TypeError:
        return False
    raise _invalid(f"Invalid query method: {method}")


def _sort_key(table: Table, row: Row, orders: list[tuple[str, str]]) -> tuple[Any, ...]:
    parts: list[Any] = []
    for attribute, direction in orders:
        value = _comparable(table, attribute, _attribute_value(row, attribute))
        # MariaDB: NULLs sort first ascending (so last descending); compare within a type group.
        present = value is not None
        if isinstance(value, datetime):
            value = value.timestamp()
        parts.append(_Directional((present, value if present else 0), direction == "DESC"))
    return tuple(parts)


class _Directional:
    __slots__ = ("descending", "value")

    def __init__(self, value: Any, descending: bool) -> None:
        self.value = value
        self.descending = descending

    def __lt__(self, other: _Directional) -> bool:
        return bool(other.value < self.value) if self.descending else bool(self.value < other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Directional) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def list_rows(
    table: Table,
    queries: ParsedQueries,
    rows: Iterable[Row],
    readable: Callable[[Row], bool],
    include_total: bool,
    all_rows: dict[str, Row],
) -> tuple[list[Row], int]:
    """The page of rows for ``queries`` and the total (capped at 5000, 0 when not asked for)."""
    by_id = next((f for f in queries.filters if f.method == "equal" and f.attribute == "$id"), None)
    if by_id is not None:  # the primary key's index: only the rows named
        keys = {row_key(str(v)) for v in by_id.values}
        rows = [all_rows[k] for k in keys if k in all_rows]
    tests = [_predicate(table, f) for f in queries.filters]
    candidates = [row for row in rows if readable(row) and all(test(row) for test in tests)]
    total = min(len(candidates), COUNT_LIMIT) if include_total else 0
    orders = list(queries.orders)
    # The database's tie-breaker: the internal sequence, in the direction of the last order (ASC without orders).
    tie = orders[-1][1] if orders else "ASC"
    orders.append(("$sequence", tie))
    if queries.cursor is not None:
        direction, cursor_id = queries.cursor
        cursor_row = all_rows.get(row_key(cursor_id))
        if cursor_row is None:
            raise ApiError("general_cursor_not_found", f"Row '{cursor_id}' for the 'cursor' value not found.")
        for attribute, _ in queries.orders:
            if _attribute_value(cursor_row, attribute) is None:
                raise ApiError(
                    "database_query_order_null",
                    f"The order column '{attribute}' had a null value. Cursor pagination requires all rows order "
                    "column values are non-null.",
                )
        if direction == "before":
            orders = [(a, "DESC" if d == "ASC" else "ASC") for a, d in orders]
        sort_key = _key_function(table, orders)
        cursor_key = sort_key(cursor_row)
        after = [(key, r) for r in candidates if cursor_key < (key := sort_key(r))]
        page = _first(after, queries.offset + queries.limit)[queries.offset :]
        if direction == "before":
            page.reverse()
        return page, total
    if orders == [("$sequence", "ASC")]:  # no order asked for: the rows in the order they were made
        return heapq.nsmallest(queries.offset + queries.limit, candidates, key=_sequence)[queries.offset :], total
    sort_key = _key_function(table, orders)
    keyed = [(sort_key(r), r) for r in candidates]
    return _first(keyed, queries.offset + queries.limit)[queries.offset :], total


def _key_function(table: Table, orders: list[tuple[str, str]]) -> Callable[[Row], Any]:
    """``_sort_key`` for these orders; ascending by id and sequence (a cursor's paging by id, or no order) as
    plain values, which order the same (ids and sequences are never null)."""
    if all(direction == "ASC" and attribute in _SYSTEM_VALUES for attribute, direction in orders):
        getters = [_SYSTEM_VALUES[attribute] for attribute, _ in orders]
        return lambda row: tuple(get(row) for get in getters)
    return lambda row: _sort_key(table, row, orders)


# The system attributes as they compare (never null): a pull's order by time, then id, then sequence.
_SYSTEM_VALUES: dict[str, Callable[[Row], Any]] = {
    "$id": lambda row: row_key(row.id),
    "$sequence": lambda row: row.sequence,
    "$updatedAt": lambda row: parse_time(row.updated_at),
    "$createdAt": lambda row: parse_time(row.created_at),
}
_TIME_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "greaterThan": lambda a, b: bool(a > b),
    "greaterThanEqual": lambda a, b: bool(a >= b),
    "lessThan": lambda a, b: bool(a < b),
    "lessThanEqual": lambda a, b: bool(a <= b),
}


def _sequence(row: Row) -> int:
    return row.sequence


def _first(keyed: list[tuple[tuple[Any, ...], Row]], n: int) -> list[Row]:
    """The ``n`` rows of the smallest keys, in order (a page of a long list without sorting all of it)."""
    if n < len(keyed) // 4:
        chosen = heapq.nsmallest(n, keyed, key=lambda pair: pair[0])
    else:
        chosen = sorted(keyed, key=lambda pair: pair[0])[:n]
    return [row for _key, row in chosen]


def _predicate(table: Table, flt: Filter) -> Callable[[Row], bool]:
    """``matches`` for one filter; an ``equal`` on a plain column or the id as a set lookup (most of a sync's
    queries: a team, a parent, a list of ids), compared as ``matches`` compares them."""
    column = table.columns.get(flt.attribute)
    plain = column is not None and not column.array and column.type != "datetime"
    if flt.method == "equal" and (plain or flt.attribute == "$id"):
        try:
            wanted = frozenset(_comparable(table, flt.attribute, v) for v in flt.values)
        except TypeError:
            wanted = None
        if wanted is not None:
            attribute = flt.attribute
            if attribute == "$id":
                return lambda row: row.id.lower() in wanted
            return lambda row: (value := row.data.get(attribute)) is not None and _fold(value) in wanted
    if flt.attribute in ("$updatedAt", "$createdAt") and flt.method in _TIME_COMPARISONS and len(flt.values) == 1:
        bound = _comparable(table, flt.attribute, flt.values[0])
        compare, value_of = _TIME_COMPARISONS[flt.method], _SYSTEM_VALUES[flt.attribute]
        if isinstance(bound, datetime):
            return lambda row: compare(value_of(row), bound)
    return lambda row: matches(table, row, flt)

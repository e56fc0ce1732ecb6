"""TablesDB endpoints: databases, tables, columns, indexes, rows and transactions, as Appwrite's
``src/Appwrite/Platform/Modules/Databases/Http`` and utopia-php/database behave (see ``tablesdb.py``)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from .api import check_new_id
from .errors import ApiError
from .routing import Call, Reply, route
from .state import (
    TRANSACTION_MAX_OPERATIONS,
    TRANSACTION_TTL,
    Database,
    Index,
    Row,
    StagedOperation,
    Table,
    Transaction,
    aggregate_permissions,
    format_time,
    parse_permission,
    parse_time,
    truncate_ms,
    unique_id,
)
from .tablesdb import (
    COLUMN_KINDS,
    column_model,
    complete_data,
    database_model,
    index_model,
    list_rows,
    make_column,
    parse_queries,
    row_allows,
    row_key,
    row_model,
    structure_error,
    table_allows,
    table_model,
    unique_violation,
)

TABLE_SCOPES = ("tables.read", "collections.read")
TABLE_WRITE = ("tables.write", "collections.write")
ROWS_READ = ("rows.read", "documents.read")
ROWS_WRITE = ("rows.write", "documents.write")
ROW_PERMISSION_TYPES = ("read", "update", "delete", "write")


class RowProblem(Exception):
    """Why a row operation failed, before it is named for the endpoint (direct or at a transaction's commit)."""

    def __init__(self, kind: str, message: str = "", row_id: str = "") -> None:
        super().__init__(message)
        self.kind = kind  # structure, duplicate, unique, not_found, conflict, unauthorized
        self.message = message
        self.row_id = row_id


def _direct_error(problem: RowProblem) -> ApiError:
    if problem.kind == "structure":
        return ApiError("row_invalid_structure", problem.message)
    if problem.kind == "duplicate":
        return ApiError("row_already_exists", None, problem.row_id)
    if problem.kind == "unique":
        return ApiError("row_unique_constraint_violation")
    if problem.kind == "not_found":
        return ApiError("row_not_found", None, problem.row_id)
    if problem.kind == "conflict":
        return ApiError("row_update_conflict")
    return ApiError("user_unauthorized", problem.message or None)


def _commit_error(problem: RowProblem) -> ApiError:
    """Transactions/Update.php names these with the Documents API's types (it is shared with TablesDB)."""
    if problem.kind == "structure":
        return ApiError("document_invalid_structure", problem.message)
    if problem.kind in ("duplicate", "unique", "conflict"):
        return ApiError("transaction_conflict")
    if problem.kind == "not_found":
        return ApiError("document_not_found", None, problem.row_id)
    return ApiError("user_unauthorized", problem.message or None)


# ---------------------------------------------------------------------------------------------------------------
# Lookups


def _database(call: Call, database_id: str | None = None) -> Database:
    database_id = database_id if database_id is not None else call.params["databaseId"]
    database = call.standin.state.databases.get(database_id)
    if database is None or (not database.enabled and not call.caller.is_key):
        raise ApiError("database_not_found", None, database_id)
    return database


def _table(call: Call, database_id: str | None = None, table_id: str | None = None) -> Table:
    database = _database(call, database_id)
    table_id = table_id if table_id is not None else call.params["tableId"]
    table = database.tables.get(table_id)
    if table is None or (not table.enabled and not call.caller.is_key):
        raise ApiError("table_not_found", None, table_id)
    return table


def _permissions_param(call: Call, value: Any, allowed_types: tuple[str, ...]) -> list[str] | None:
    """Validate a permissions param (Permissions validator), aggregate write(), and check that a user only grants
    roles they have (as Appwrite's row endpoints do)."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 100:
        raise ApiError("general_argument_invalid", "Invalid `permissions` param: Value must a valid array.")
    for text in value:
        parsed = parse_permission(text) if isinstance(text, str) else None
        if parsed is None:
            raise ApiError("general_argument_invalid", f'Invalid `permissions` param: Invalid permission "{text}".')
        if parsed[0] not in allowed_types:
            raise ApiError(
                "general_argument_invalid",
                f'Invalid `permissions` param: Permission "{parsed[0]}" is not allowed. Must be one of: '
                f"{', '.join(allowed_types)}.",
            )
    permissions = aggregate_permissions(value, allowed_types)
    caller = call.caller
    if not caller.is_key:
        for text in permissions:
            parsed = parse_permission(text)
            if parsed and parsed[1] not in caller.roles:
                raise ApiError("user_unauthorized", f"Permissions must be one of: ({', '.join(sorted(caller.roles))})")
    return permissions


def _default_row_permissions(call: Call) -> list[str]:
    user_id = call.caller.user_id
    if call.caller.is_key or not user_id:
        return []
    return [f'{kind}("user:{user_id}")' for kind in ("read", "update", "delete")]


# ---------------------------------------------------------------------------------------------------------------
# Databases, tables, columns, indexes (API key)


@route("POST", "/tablesdb", "databases.write")
def create_database(call: Call) -> Reply:
    database_id = check_new_id(call.required("databaseId"), "databaseId")
    name = call.required("name")
    state = call.standin.state
    if database_id in state.databases:
        raise ApiError("database_already_exists", None, database_id)
    now = call.standin.stamp()
    database = Database(database_id, str(name), bool(call.arg("enabled", True)), now, now)
    state.databases[database_id] = database
    return Reply(201, database_model(database))


@route("GET", "/tablesdb", "databases.read")
def list_databases(call: Call) -> Reply:
    databases = list(call.standin.state.databases.values())
    return Reply(200, {"total": len(databases), "databases": [database_model(d) for d in databases]})


@route("GET", "/tablesdb/{databaseId}", "databases.read")
def get_database(call: Call) -> Reply:
    return Reply(200, database_model(_database(call)))


@route("POST", "/tablesdb/{databaseId}/tables", *TABLE_WRITE)
def create_table(call: Call) -> Reply:
    database = _database(call)
    table_id = check_new_id(call.required("tableId"), "tableId")
    if table_id in database.tables:
        raise ApiError("table_already_exists", None, table_id)
    permissions = _permissions_param(
        call, call.arg("permissions") or [], ("read", "create", "update", "delete", "write")
    )
    now = call.standin.stamp()
    table = Table(
        table_id,
        database.id,
        str(call.required("name")),
        permissions or [],
        bool(call.arg("rowSecurity", False)),
        bool(call.arg("enabled", True)),
        now,
        now,
    )
    for spec in call.arg("columns") or []:
        column = make_column(_column_kind(spec), spec, now)
        table.columns[column.key] = column
    database.tables[table_id] = table
    for spec in call.arg("indexes") or []:
        _add_index(call, table, spec)
    return Reply(201, table_model(table))


def _column_kind(spec: dict[str, Any]) -> str:
    kind = str(spec.get("type", ""))
    if kind == "double":
        return "float"
    if kind == "string" and spec.get("format") in ("enum", "email", "url", "ip"):
        return str(spec["format"])
    if kind not in COLUMN_KINDS:
        raise ApiError("column_type_invalid", None, kind)
    return kind


@route("GET", "/tablesdb/{databaseId}/tables", *TABLE_SCOPES)
def list_tables(call: Call) -> Reply:
    tables = list(_database(call).tables.values())
    return Reply(200, {"total": len(tables), "tables": [table_model(t) for t in tables]})


@route("GET", "/tablesdb/{databaseId}/tables/{tableId}", *TABLE_SCOPES)
def get_table(call: Call) -> Reply:
    return Reply(200, table_model(_table(call)))


@route("PUT", "/tablesdb/{databaseId}/tables/{tableId}", *TABLE_WRITE)
def update_table(call: Call) -> Reply:
    table = _table(call)
    table.name = str(call.required("name"))
    permissions = _permissions_param(call, call.arg("permissions"), ("read", "create", "update", "delete", "write"))
    if permissions is not None:
        table.permissions = permissions
    if call.arg("rowSecurity") is not None:
        table.row_security = bool(call.arg("rowSecurity"))
    if call.arg("enabled") is not None:
        table.enabled = bool(call.arg("enabled"))
    table.updated_at = call.standin.stamp()
    return Reply(200, table_model(table))


def _create_column(call: Call, kind: str) -> Reply:
    table = _table(call)
    column = make_column(kind, call.body, call.standin.stamp())
    if column.key in table.columns:
        raise ApiError("column_already_exists", None, column.key)
    table.columns[column.key] = column
    for row_id, row in list(table.rows.items()):
        table.rows[row_id] = replace(row, data={**row.data, column.key: column.default})
    # Appwrite creates the column in the background: the answer says "processing", a later read "available".
    return Reply(202, {**column_model(column), "status": "processing"})


def _column_route(kind: str) -> None:
    def create(call: Call) -> Reply:
        return _create_column(call, kind)

    route("POST", f"/tablesdb/{{databaseId}}/tables/{{tableId}}/columns/{kind}", *TABLE_WRITE)(create)


for _kind in COLUMN_KINDS:
    _column_route(_kind)


@route("GET", "/tablesdb/{databaseId}/tables/{tableId}/columns", *TABLE_SCOPES)
def list_columns(call: Call) -> Reply:
    columns = list(_table(call).columns.values())
    return Reply(200, {"total": len(columns), "columns": [column_model(c) for c in columns]})


@route("GET", "/tablesdb/{databaseId}/tables/{tableId}/columns/{key}", *TABLE_SCOPES)
def get_column(call: Call) -> Reply:
    column = _table(call).columns.get(call.params["key"])
    if column is None:
        raise ApiError("column_not_found", None, call.params["key"])
    return Reply(200, column_model(column))


def _add_index(call: Call, table: Table, spec: dict[str, Any]) -> Index:
    key = spec.get("key")
    kind = spec.get("type")
    columns = spec.get("columns") or spec.get("attributes")
    if not isinstance(key, str) or not key:
        raise ApiError("general_argument_invalid", 'Param "key" is not optional.')
    if kind not in ("key", "unique", "fulltext"):
        raise ApiError("general_argument_invalid", "Invalid `type` param: Value must be one of (key, fulltext, unique)")
    if not isinstance(columns, list) or not columns:
        raise ApiError("general_argument_invalid", 'Param "columns" is not optional.')
    if key in table.indexes:
        raise ApiError("index_already_exists", None, key)
    for column in columns:
        if column not in table.columns and column not in ("$id", "$createdAt", "$updatedAt"):
            raise ApiError("column_unknown", None, column)
    orders = list(spec.get("orders") or [])
    lengths = list(spec.get("lengths") or [])
    now = call.standin.stamp()
    index = Index(key, kind, list(columns), orders, lengths, now, now)
    if kind == "unique":
        probe = replace(table, indexes={key: index})
        if any(unique_violation(probe, row.data, row.id, table.rows) for row in table.rows.values()):
            index.status, index.error = "failed", "Duplicate values for a unique index"
    table.indexes[key] = index
    return index


@route("POST", "/tablesdb/{databaseId}/tables/{tableId}/indexes", *TABLE_WRITE)
def create_index(call: Call) -> Reply:
    index = _add_index(call, _table(call), call.body)
    return Reply(202, {**index_model(index), "status": "processing" if index.status == "available" else index.status})


@route("GET", "/tablesdb/{databaseId}/tables/{tableId}/indexes", *TABLE_SCOPES)
def list_indexes(call: Call) -> Reply:
    indexes = list(_table(call).indexes.values())
    return Reply(200, {"total": len(indexes), "indexes": [index_model(i) for i in indexes]})


@route("GET", "/tablesdb/{databaseId}/tables/{tableId}/indexes/{key}", *TABLE_SCOPES)
def get_index(call: Call) -> Reply:
    index = _table(call).indexes.get(call.params["key"])
    if index is None:
        raise ApiError("index_not_found", None, call.params["key"])
    return Reply(200, index_model(index))


# ---------------------------------------------------------------------------------------------------------------
# Row operations, shared by the row endpoints and a transaction's commit


def _user_data(data: dict[str, Any], privileged: bool) -> tuple[dict[str, Any], str | None, str | None]:
    """The columns of a row's ``data`` and any explicit $createdAt/$updatedAt (an API key may set them)."""
    clean = {k: v for k, v in data.items() if not k.startswith("$")}
    created = data.get("$createdAt") if privileged else None
    updated = data.get("$updatedAt") if privileged else None
    return clean, created, updated


def _valid_stamp(value: str | None, fallback: str) -> str:
    if value is None:
        return fallback
    try:
        return format_time(parse_time(value))
    except (TypeError, ValueError):
        raise RowProblem("structure", 'Invalid document structure: Attribute "$createdAt" has invalid type.') from None


def op_create(
    table: Table,
    rows: dict[str, Row],
    row_id: str,
    data: dict[str, Any],
    permissions: list[str],
    now: str,
    privileged: bool,
) -> Row:
    if row_key(row_id) in rows:
        raise RowProblem("duplicate", row_id=row_id)
    user_data, created, updated = _user_data(data, privileged)
    problem = structure_error(table, user_data)
    if problem:
        raise RowProblem("structure", problem)
    full = complete_data(table, user_data)
    if unique_violation(table, full, row_id, rows):
        raise RowProblem("unique")
    row = Row(row_id, table.next_sequence, _valid_stamp(created, now), _valid_stamp(updated, now), permissions, full)
    table.next_sequence += 1
    rows[row_key(row_id)] = row
    return row


def op_update(
    table: Table,
    rows: dict[str, Row],
    row_id: str,
    data: dict[str, Any],
    permissions: list[str] | None,
    now: str,
    privileged: bool,
    roles: set[str] | None,
    timestamp: datetime | None,
) -> Row:
    old = rows.get(row_key(row_id))
    if old is None:
        raise RowProblem("not_found", row_id=row_id)
    user_data, created, updated = _user_data(data, privileged)
    merged = {**old.data, **user_data}
    new_permissions = old.permissions if permissions is None else permissions
    changed = complete_data(table, merged) != old.data if not structure_error(table, merged) else True
    changed = changed or sorted(new_permissions) != sorted(old.permissions)
    if roles is not None and not row_allows(table, old, "update" if changed else "read", roles):
        raise RowProblem("unauthorized")
    if timestamp is not None and parse_time(old.updated_at) > timestamp:
        raise RowProblem("conflict")
    problem = structure_error(table, merged)
    if problem:
        raise RowProblem("structure", problem)
    full = complete_data(table, merged)
    if unique_violation(table, full, old.id, rows):
        raise RowProblem("unique")
    row = replace(
        old,
        data=full,
        permissions=list(new_permissions),
        created_at=_valid_stamp(created, old.created_at),
        updated_at=_valid_stamp(updated, now if changed else old.updated_at),
    )
    rows[row_key(row_id)] = row
    return row


def op_upsert(
    table: Table,
    rows: dict[str, Row],
    row_id: str,
    data: dict[str, Any],
    permissions: list[str] | None,
    now: str,
    privileged: bool,
    roles: set[str] | None,
    default_permissions: list[str],
    timestamp: datetime | None,
) -> Row:
    old = rows.get(row_key(row_id))
    if old is None:
        if roles is not None and not table_allows(table, "create", roles):
            raise RowProblem("unauthorized")
        return op_create(
            table, rows, row_id, data, default_permissions if permissions is None else permissions, now, privileged
        )
    user_data, created, updated = _user_data(data, privileged)
    # Optional columns left out keep their value; required ones must be given again (upsertDocuments).
    document = dict(user_data)
    for key, column in table.columns.items():
        if key not in document and not column.required:
            document[key] = old.data.get(key)
    new_permissions = old.permissions if permissions is None else permissions
    changed = any(old.data.get(k) != v for k, v in complete_data(table, document).items() if k in user_data)
    changed = changed or sorted(new_permissions) != sorted(old.permissions)
    if not changed:
        return old
    if roles is not None and not row_allows(table, old, "update", roles):
        raise RowProblem("unauthorized")
    problem = structure_error(table, document)
    if problem:
        raise RowProblem("structure", problem)
    if timestamp is not None and parse_time(old.updated_at) > timestamp:
        raise RowProblem("conflict")
    full = complete_data(table, document)
    if unique_violation(table, full, old.id, rows):
        raise RowProblem("unique")
    row = replace(
        old,
        data=full,
        permissions=list(new_permissions),
        created_at=_valid_stamp(created, old.created_at),
        updated_at=_valid_stamp(updated, now),
    )
    rows[row_key(row_id)] = row
    return row


def op_delete(
    table: Table, rows: dict[str, Row], row_id: str, roles: set[str] | None, timestamp: datetime | None
) -> None:
    old = rows.get(row_key(row_id))
    if old is None:
        raise RowProblem("not_found", row_id=row_id)
    if roles is not None and not row_allows(table, old, "delete", roles):
        raise RowProblem("unauthorized")
    if timestamp is not None and parse_time(old.updated_at) > timestamp:
        raise RowProblem("conflict")
    del rows[row_key(row_id)]


def _roles(call: Call) -> set[str] | None:
    return None if call.caller.is_key else call.caller.roles


def _request_timestamp(call: Call) -> datetime | None:
    header = call.headers.get("x-appwrite-timestamp")
    if not header:
        return None
    try:
        return parse_time(header)
    except ValueError:
        raise ApiError("general_argument_invalid", "Invalid X-Appwrite-Timestamp header value") from None


def _data_param(call: Call, *, required: bool) -> dict[str, Any]:
    data = call.arg("data")
    if data is None or data == []:
        data = {}
    if not isinstance(data, dict):
        raise ApiError("general_argument_invalid", "Invalid `data` param: Value must be a valid object.")
    return data


def _readable(call: Call, table: Table) -> Any:
    roles = call.caller.roles
    if call.caller.is_key:
        return lambda row: True
    if not table.row_security and not table_allows(table, "read", roles):
        raise ApiError("user_unauthorized")
    return lambda row: row_allows(table, row, "read", roles)


# ---------------------------------------------------------------------------------------------------------------
# Row endpoints


@route("GET", "/tablesdb/{databaseId}/tables/{tableId}/rows", *ROWS_READ)
def list_rows_endpoint(call: Call) -> Reply:
    table = _table(call)
    queries = parse_queries(table, call.arg("queries") or [])
    readable = _readable(call, table)
    rows = _rows_seen_by(call, table)
    include_total = call.arg("total", True)
    page, total = list_rows(table, queries, rows.values(), readable, include_total is not False, rows)
    return Reply(200, {"total": total, "rows": [row_model(table, r, queries.select) for r in page]})


def _rows_seen_by(call: Call, table: Table) -> dict[str, Row]:
    """The table's rows, or with ``transactionId`` as that transaction's staged operations would leave them."""
    transaction_id = call.arg("transactionId")
    if not transaction_id:
        return table.rows
    transaction = _transaction(call, transaction_id)
    working = _simulate(call, transaction)
    return working.get((table.database_id, table.id), table.rows)


@route("GET", "/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}", *ROWS_READ)
def get_row(call: Call) -> Reply:
    table = _table(call)
    row_id = call.params["rowId"]
    select = parse_queries(table, call.arg("queries") or []).select
    row = _rows_seen_by(call, table).get(row_key(row_id))
    readable = _readable(call, table)
    if row is None or not readable(row):
        raise ApiError("row_not_found", None, row_id)
    return Reply(200, row_model(table, row, select))


@route("POST", "/tablesdb/{databaseId}/tables/{tableId}/rows", *ROWS_WRITE)
def create_row(call: Call) -> Reply:
    if call.arg("rows") is not None:
        if not call.caller.is_key:
            raise ApiError("general_unauthorized_scope")
        raise ApiError("general_argument_invalid", "Bulk row creation is not supported by the stand-in")
    data = _data_param(call, required=True)
    if not data:
        raise ApiError("row_missing_data")
    raw_id = call.arg("rowId")
    if not raw_id:
        raise ApiError("row_missing_data", "Row ID is required when creating a single row.")
    row_id = check_new_id(raw_id, "rowId")
    table = _table(call)
    permissions = _permissions_param(call, call.arg("permissions"), ROW_PERMISSION_TYPES)
    if permissions is None:
        permissions = _default_row_permissions(call)
    if not call.caller.is_key and not table_allows(table, "create", call.caller.roles):
        raise ApiError("user_unauthorized")
    transaction_id = call.arg("transactionId")
    if transaction_id:
        _stage(call, transaction_id, "create", table, row_id, {**data, "$permissions": permissions})
        mock = {
            "$id": row_id,
            "$sequence": "",
            "$tableId": table.id,
            "$databaseId": table.database_id,
            "$createdAt": "",
            "$updatedAt": "",
            "$permissions": permissions,
            **data,
        }
        return Reply(201, mock)
    try:
        row = op_create(table, table.rows, row_id, data, permissions, call.standin.stamp(), call.caller.is_key)
    except RowProblem as problem:
        raise _direct_error(problem) from None
    _raise_event(call, table, row, "create")
    return Reply(201, row_model(table, row))


@route("PATCH", "/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}", *ROWS_WRITE)
def update_row(call: Call) -> Reply:
    table = _table(call)
    row_id = call.params["rowId"]
    data = _data_param(call, required=False)
    permissions = _permissions_param(call, call.arg("permissions"), ROW_PERMISSION_TYPES)
    if not data and permissions is None:
        raise ApiError("row_missing_payload")
    transaction_id = call.arg("transactionId")
    if transaction_id:
        current = _rows_seen_by(call, table).get(row_key(row_id))
        if current is None:
            raise ApiError("row_not_found", None, row_id)
        staged = dict(data)
        if permissions is not None:
            staged["$permissions"] = permissions
        _stage(call, transaction_id, "update", table, row_id, staged)
        mock = {**row_model(table, current), **data}
        if permissions is not None:
            mock["$permissions"] = permissions
        return Reply(200, mock)
    try:
        row = op_update(
            table,
            table.rows,
            row_id,
            data,
            permissions,
            call.standin.stamp(),
            call.caller.is_key,
            _roles(call),
            _request_timestamp(call),
        )
    except RowProblem as problem:
        raise _direct_error(problem) from None
    _raise_event(call, table, row, "update")
    return Reply(200, row_model(table, row))


@route("PUT", "/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}", *ROWS_WRITE)
def upsert_row(call: Call) -> Reply:
    table = _table(call)
    row_id = check_new_id(call.params["rowId"], "rowId")
    data = _data_param(call, required=False)
    permissions = _permissions_param(call, call.arg("permissions"), ROW_PERMISSION_TYPES)
    if not data and permissions is None:
        raise ApiError("row_missing_payload")
    transaction_id = call.arg("transactionId")
    if transaction_id:
        current = _rows_seen_by(call, table).get(row_key(row_id))
        if permissions is None:
            permissions = current.permissions if current else _default_row_permissions(call)
        _stage(call, transaction_id, "upsert", table, row_id, {**data, "$permissions": permissions})
        mock = {
            "$id": row_id,
            "$sequence": "",
            "$tableId": table.id,
            "$databaseId": table.database_id,
            "$createdAt": "",
            "$updatedAt": "",
            "$permissions": permissions,
            **data,
        }
        return Reply(201, mock)
    try:
        # The upsert route ignores X-Appwrite-Timestamp (it never calls withRequestTimestamp).
        row = op_upsert(
            table,
            table.rows,
            row_id,
            data,
            permissions,
            call.standin.stamp(),
            call.caller.is_key,
            _roles(call),
            _default_row_permissions(call),
            None,
        )
    except RowProblem as problem:
        raise _direct_error(problem) from None
    _raise_event(call, table, row, "upsert")
    return Reply(200, row_model(table, row))  # the route sets no status: 200 (the spec documents 201)


@route("DELETE", "/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}", *ROWS_WRITE)
def delete_row(call: Call) -> Reply:
    table = _table(call)
    row_id = call.params["rowId"]
    transaction_id = call.arg("transactionId")
    if transaction_id:
        current = _rows_seen_by(call, table).get(row_key(row_id))
        if current is None:
            raise ApiError("row_not_found", None, row_id)
        if not call.caller.is_key and not row_allows(table, current, "delete", call.caller.roles):
            raise ApiError("user_unauthorized")
        _stage(call, transaction_id, "delete", table, row_id, {})
        return Reply(204)
    old = table.rows.get(row_key(row_id))
    try:
        op_delete(table, table.rows, row_id, _roles(call), _request_timestamp(call))
    except RowProblem as problem:
        raise _direct_error(problem) from None
    if old is not None:
        _raise_event(call, table, old, "delete")
    return Reply(204)


def _raise_event(call: Call, table: Table, row: Row, action: str) -> None:
    call.standin.raise_row_event(table.database_id, table.id, row_model(table, row), action, call.caller.user)


# ---------------------------------------------------------------------------------------------------------------
# Transactions


def transaction_model(transaction: Transaction) -> dict[str, Any]:
    return {
        "$id": transaction.id,
        "$createdAt": transaction.created_at,
        "$updatedAt": transaction.updated_at,
        "status": transaction.status,
        "operations": len(transaction.operations),
        "expiresAt": format_time(transaction.expires_at),
    }


def _transaction(call: Call, transaction_id: str | None = None) -> Transaction:
    transaction_id = transaction_id or call.params["transactionId"]
    transaction = call.standin.state.transactions.get(transaction_id)
    visible = transaction is not None and (
        call.caller.is_key or f'read("user:{call.caller.user_id}")' in transaction.permissions
    )
    if transaction is None or not visible:
        raise ApiError("transaction_not_found", None, transaction_id)
    return transaction


def _check_open(call: Call, transaction: Transaction, adding: int, *, operations_endpoint: bool = False) -> None:
    if transaction.status != "pending":
        if operations_endpoint:
            raise ApiError("general_bad_request", "Invalid or non‑pending transaction")
        raise ApiError("transaction_not_ready")
    if call.standin.now() > transaction.expires_at:
        raise ApiError("transaction_expired")
    existing = len(transaction.operations)
    if existing + adding > TRANSACTION_MAX_OPERATIONS:
        raise ApiError(
            "transaction_limit_exceeded",
            f"Transaction already has {existing} operations, adding {adding} would exceed the maximum of "
            f"{TRANSACTION_MAX_OPERATIONS}",
        )


def _stage(call: Call, transaction_id: str, action: str, table: Table, row_id: str, data: dict[str, Any]) -> None:
    transaction = _transaction(call, transaction_id)
    _check_open(call, transaction, 1)
    now = truncate_ms(call.standin.now())
    transaction.operations.append(StagedOperation(action, table.database_id, table.id, row_id, data, now))
    transaction.updated_at = format_time(now)


@route("POST", "/tablesdb/transactions", *ROWS_WRITE)
def create_transaction(call: Call) -> Reply:
    ttl = call.arg("ttl", TRANSACTION_TTL[2])
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not TRANSACTION_TTL[0] <= ttl <= TRANSACTION_TTL[1]:
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `ttl` param: Value must be a valid range between {TRANSACTION_TTL[0]} and {TRANSACTION_TTL[1]}",
        )
    now = call.standin.now()
    user_id = call.caller.user_id
    permissions = [f'{k}("user:{user_id}")' for k in ("read", "update", "delete")] if user_id else []
    stamp = format_time(now)
    transaction = Transaction(unique_id(), stamp, stamp, now + timedelta(seconds=ttl), "pending", permissions)
    call.standin.state.transactions[transaction.id] = transaction
    return Reply(201, transaction_model(transaction))


@route("GET", "/tablesdb/transactions", *ROWS_READ)
def list_transactions(call: Call) -> Reply:
    found = [
        t
        for t in call.standin.state.transactions.values()
        if call.caller.is_key or f'read("user:{call.caller.user_id}")' in t.permissions
    ]
    return Reply(200, {"total": len(found), "transactions": [transaction_model(t) for t in found]})


@route("GET", "/tablesdb/transactions/{transactionId}", *ROWS_READ)
def get_transaction(call: Call) -> Reply:
    return Reply(200, transaction_model(_transaction(call)))


@route("DELETE", "/tablesdb/transactions/{transactionId}", *ROWS_WRITE)
def delete_transaction(call: Call) -> Reply:
    transaction = _transaction(call)
    del call.standin.state.transactions[transaction.id]
    return Reply(204)


@route("POST", "/tablesdb/transactions/{transactionId}/operations", *ROWS_WRITE)
def create_operations(call: Call) -> Reply:
    operations = call.arg("operations") or []
    if not isinstance(operations, list) or not operations:
        raise ApiError("general_bad_request", "Operations array cannot be empty")
    transaction = _transaction(call)
    _check_open(call, transaction, len(operations), operations_endpoint=True)
    staged: list[StagedOperation] = []
    created_here: set[tuple[str, str, str]] = set()
    now = truncate_ms(call.standin.now())
    working = _simulate(call, transaction)
    for operation in operations:
        if not isinstance(operation, dict):
            raise ApiError("general_argument_invalid", "Invalid `operations` param: Value must be a valid object.")
        action = operation.get("action")
        if action in ("bulkCreate", "bulkUpdate", "bulkUpsert", "bulkDelete"):
            if not call.caller.is_key:
                raise ApiError("user_unauthorized")
            raise ApiError("general_argument_invalid", f"The stand-in does not stage {action} operations")
        if action not in ("create", "update", "upsert", "delete"):
            raise ApiError("general_bad_request", f"Invalid action: {action}")
        database_id = str(operation.get("databaseId", ""))
        table = _table(call, database_id, str(operation.get("tableId", "")))
        row_id = operation.get("rowId")
        data = operation.get("data") or {}
        if not isinstance(data, dict):
            raise ApiError("general_argument_invalid", "Invalid `data` in operation: Value must be a valid object.")
        current: Row | None = None
        if action in ("update", "delete", "upsert"):
            if not row_id:
                raise ApiError("general_bad_request", f"Document ID is required for {action} operations")
            rows = working.get((table.database_id, table.id), table.rows)
            current = rows.get(row_key(str(row_id)))
            dependant = (table.database_id, table.id, row_key(str(row_id))) in created_here
            if current is None and not dependant and action != "upsert":
                raise ApiError("document_not_found", None, row_id)
        elif action == "create":
            row_id = check_new_id(row_id or "unique()", "rowId")
        if not call.caller.is_key:
            kind = {"create": "create", "update": "update", "delete": "delete"}.get(str(action))
            if action == "upsert":
                kind = "update" if current is not None else "create"
            assert kind is not None
            if kind == "create" or not table.row_security or current is None:
                permitted = table_allows(table, kind, call.caller.roles)
            else:
                permitted = row_allows(table, current, kind, call.caller.roles)
            if not permitted:
                raise ApiError("user_unauthorized")
            if "$permissions" in data:
                _permissions_param(call, data["$permissions"], ROW_PERMISSION_TYPES)
        if action == "create":
            created_here.add((table.database_id, table.id, row_key(str(row_id))))
            data = {"$permissions": _default_row_permissions(call), **data}
        staged.append(StagedOperation(str(action), table.database_id, table.id, str(row_id), dict(data), now))
    transaction.operations.extend(staged)
    transaction.updated_at = format_time(now)
    return Reply(201, transaction_model(transaction))


class WorkingRows(MutableMapping[str, Row]):
    """A table's rows as a transaction's operations leave them: its changes over the table's rows, which stay as
    they are until ``write_through`` (no copy of a whole table per transaction)."""

    def __init__(self, base: dict[str, Row]) -> None:
        self.base = base
        self.changed: dict[str, Row] = {}
        self.removed: set[str] = set()

    def __getitem__(self, key: str) -> Row:
        if key in self.changed:
            return self.changed[key]
        if key in self.removed:
            raise KeyError(key)
        return self.base[key]

    def __setitem__(self, key: str, row: Row) -> None:
        self.changed[key] = row
        self.removed.discard(key)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.changed.pop(key, None)
        if key in self.base:
            self.removed.add(key)

    def __iter__(self) -> Iterator[str]:
        yield from (k for k in self.base if k not in self.changed and k not in self.removed)
        yield from self.changed

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def write_through(self) -> None:
        for key in self.removed:
            del self.base[key]
        self.base.update(self.changed)


def _apply(
    call: Call,
    transaction: Transaction,
    working: dict[tuple[str, str], WorkingRows],
    *,
    strict: bool,
    applied: list[tuple[Table, Row, str]] | None = None,
) -> None:
    """Apply the staged operations, in order, to ``working`` (the tables' rows as changed). ``strict``: a commit
    (a row changed since its operation was staged is a conflict); otherwise a preview that skips failures.
    ``applied`` gets (table, row after the operation (a deleted one as it was), action) for each, in order."""
    now = call.standin.stamp()
    touched: set[tuple[str, str, str]] = set()
    for op in transaction.operations:
        database = call.standin.state.databases.get(op.database_id)
        table = database.tables.get(op.table_id) if database else None
        if table is None:
            if strict:
                raise ApiError("table_not_found", None, op.table_id)
            continue
        rows = working.setdefault((op.database_id, op.table_id), WorkingRows(table.rows))
        key = (op.database_id, op.table_id, row_key(op.row_id or ""))
        timestamp = None if key in touched or not strict else op.staged_at
        data = {k: v for k, v in op.data.items() if k != "$permissions"}
        permissions = op.data.get("$permissions")
        try:
            row: Row | None = None
            if op.action == "create":
                row = op_create(table, rows, op.row_id or unique_id(), data, list(permissions or []), now, True)
            elif op.action == "update":
                row = op_update(table, rows, op.row_id or "", data, permissions, now, True, None, timestamp)
            elif op.action == "upsert":
                row = op_upsert(table, rows, op.row_id or "", data, permissions, now, True, None, [], timestamp)
            elif op.action == "delete":
                row = rows.get(row_key(op.row_id or ""))
                op_delete(table, rows, op.row_id or "", None, timestamp)
            if applied is not None and row is not None:
                applied.append((table, row, op.action))
        except RowProblem as problem:
            if strict:
                raise _commit_error(problem) from None
            continue
        touched.add(key)


def _simulate(call: Call, transaction: Transaction) -> dict[tuple[str, str], dict[str, Row]]:
    saved = _sequences(call)
    working: dict[tuple[str, str], WorkingRows] = {}
    try:
        _apply(call, transaction, working, strict=False)
    finally:
        _restore_sequences(call, saved)
    return working


def _sequences(call: Call) -> dict[tuple[str, str], int]:
    return {(d.id, t.id): t.next_sequence for d in call.standin.state.databases.values() for t in d.tables.values()}


def _restore_sequences(call: Call, saved: dict[tuple[str, str], int]) -> None:
    for database in call.standin.state.databases.values():
        for table in database.tables.values():
            table.next_sequence = saved.get((database.id, table.id), table.next_sequence)


@route("PATCH", "/tablesdb/transactions/{transactionId}", *ROWS_WRITE)
def update_transaction(call: Call) -> Reply:
    commit = call.arg("commit", False) is True
    rollback = call.arg("rollback", False) is True
    if not commit and not rollback:
        raise ApiError("general_bad_request", "Either commit or rollback must be true")
    if commit and rollback:
        raise ApiError("general_bad_request", "Cannot commit and rollback at the same time")
    transaction = _transaction(call)
    _check_open(call, transaction, 0)
    stamp = call.standin.stamp()
    if rollback:
        transaction.status, transaction.updated_at = "failed", stamp
        return Reply(200, transaction_model(transaction))
    saved = _sequences(call)
    working: dict[tuple[str, str], WorkingRows] = {}
    applied: list[tuple[Table, Row, str]] = []
    try:
        _apply(call, transaction, working, strict=True, applied=applied)
    except ApiError:
        _restore_sequences(call, saved)
        transaction.status, transaction.updated_at = "failed", stamp
        raise
    for rows in working.values():  # all or nothing: every table's changes written at once (under the state lock)
        rows.write_through()
    transaction.status, transaction.updated_at = "committed", stamp
    for table, row, action in applied:  # the rows' events, now that they are written
        _raise_event(call, table, row, action)
    return Reply(200, transaction_model(transaction))


def rows_snapshot(table: Table) -> list[dict[str, Any]]:
    return [copy.deepcopy(row_model(table, row)) for row in sorted(table.rows.values(), key=lambda r: r.sequence)]

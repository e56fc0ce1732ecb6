"""``rxdesk backend deploy``: create what backend/appwrite.config.json describes in an Appwrite project.

Run once by whoever sets up the organisation's project, with an API key given for that run only (never stored,
never shipped). Whatever exists already is left alone, so it can be run again after the schema grows. Appwrite
creates columns in the background: each table's indexes wait until its columns are available. Functions are
deployed with the Appwrite CLI (``appwrite push functions`` in backend/), which packs and uploads their code.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from appwrite.client import Client
from appwrite.enums.order_by import OrderBy
from appwrite.enums.tables_db_index_type import TablesDBIndexType
from appwrite.exception import AppwriteException
from appwrite.services.tables_db import TablesDB

from core.errors import RxDeskError
from sync.appwrite_api import describe, install_timeouts
from sync.server_config import project_config

COLUMN_WAIT_S = 120.0


class DeployError(RxDeskError):
    pass


def deploy_schema(endpoint: str, project: str, api_key: str, report: Callable[[str], None] = print) -> int:
    """Create the database, tables, columns and indexes that are missing; returns how many were created."""
    install_timeouts()
    tables = TablesDB(Client().set_endpoint(endpoint.rstrip("/")).set_project(project).set_key(api_key))
    config = project_config()
    created = 0
    try:
        for database in config["tablesDB"]:
            if not _exists(functools.partial(tables.get, database["$id"])):
                tables.create(database["$id"], database["name"], enabled=True)
                report(f"database {database['$id']}")
                created += 1
        for table in config["tables"]:
            created += _deploy_table(tables, table, report)
    except AppwriteException as exc:
        raise DeployError(f"The project could not be set up: {describe(exc)}") from exc
    return created


def _deploy_table(tables: TablesDB, table: dict[str, Any], report: Callable[[str], None]) -> int:
    db, table_id = table["databaseId"], table["$id"]
    created = 0
    if not _exists(functools.partial(tables.get_table, db, table_id)):
        tables.create_table(
            db, table_id, table["name"], permissions=table["$permissions"], row_security=table["rowSecurity"]
        )
        report(f"table {table_id}")
        created += 1
    existing = {c["key"] for c in _columns(tables, db, table_id)}
    for column in table["columns"]:
        if column["key"] in existing:
            continue
        _create_column(tables, db, table_id, column)
        report(f"column {table_id}.{column['key']}")
        created += 1
    _wait_for_columns(tables, db, table_id)
    indexes = {i.key for i in tables.list_indexes(db, table_id).indexes}
    for index in table["indexes"]:
        if index["key"] in indexes:
            continue
        tables.create_index(
            db,
            table_id,
            index["key"],
            TablesDBIndexType(index["type"]),
            index["columns"],
            orders=[OrderBy(o.lower()) for o in index["orders"]],
        )
        report(f"index {table_id}.{index['key']}")
        created += 1
    return created


def _create_column(tables: TablesDB, db: str, table_id: str, column: dict[str, Any]) -> None:
    key, required = column["key"], column["required"]
    kind = column["type"]
    if kind == "varchar":
        tables.create_varchar_column(db, table_id, key, column["size"], required)
    elif kind == "text":
        tables.create_text_column(db, table_id, key, required)
    elif kind == "integer":
        tables.create_integer_column(db, table_id, key, required)
    elif kind == "boolean":
        tables.create_boolean_column(db, table_id, key, required)
    else:
        raise DeployError(f"{table_id}.{key}: no column type {kind!r}")


def _columns(tables: TablesDB, db: str, table_id: str) -> list[dict[str, Any]]:
    columns = tables.list_columns(db, table_id).columns
    return [c if isinstance(c, dict) else c.to_dict() for c in columns]


def _wait_for_columns(tables: TablesDB, db: str, table_id: str) -> None:
    deadline = time.monotonic() + COLUMN_WAIT_S
    while True:
        statuses = {c.get("status", "available") for c in _columns(tables, db, table_id)}
        if statuses <= {"available"}:
            return
        if "failed" in statuses:
            raise DeployError(f"Appwrite could not create a column of {table_id}; see the project's console.")
        if time.monotonic() > deadline:
            raise DeployError(f"The columns of {table_id} are still being created; run deploy again in a minute.")
        time.sleep(1.0)


def _exists(get: Callable[[], Any]) -> bool:
    try:
        get()
    except AppwriteException as exc:
        if exc.code == 404:
            return False
        raise
    return True

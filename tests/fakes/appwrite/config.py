"""Loads an Appwrite CLI project file (``appwrite.config.json``, the format ``appwrite pull``/``push`` use) straight
into the stand-in's state, for test setup.

The CLI's format (sdk-for-cli's config schema): ``projectId``; ``tablesDB`` (or the legacy ``databases``):
``{$id, name, enabled}``; ``tables`` (or legacy ``collections``): ``{$id, $permissions, databaseId, name, enabled,
rowSecurity (legacy documentSecurity), columns (legacy attributes): [{key, type, required, array, size, default,
min, max, format, elements, encrypt}], indexes: [{key, type, columns (legacy attributes), orders}]}``, where a
column's ``type`` is string/varchar/text/mediumtext/longtext/integer/double/boolean/datetime and an enum, email,
url or ip column is a ``string`` with that ``format``; ``functions``: ``{$id, name, runtime, execute, scopes,
events, schedule, timeout, enabled, logging, entrypoint, path, commands, vars}``; ``teams``: ``{$id, name}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .state import Database, Index, Table, aggregate_permissions
from .tablesdb import make_column

if TYPE_CHECKING:
    from .standin import AppwriteStandin

COLUMN_TYPES = {
    "string": "string",
    "varchar": "varchar",
    "text": "text",
    "mediumtext": "mediumtext",
    "longtext": "longtext",
    "integer": "integer",
    "double": "float",
    "float": "float",
    "boolean": "boolean",
    "datetime": "datetime",
}


def column_kind(spec: dict[str, Any]) -> str:
    kind = str(spec.get("type", ""))
    if kind == "string" and spec.get("format") in ("enum", "email", "url", "ip"):
        return str(spec["format"])
    if kind not in COLUMN_TYPES:
        raise ValueError(f"column {spec.get('key')!r}: type {kind!r} is not supported by the stand-in")
    return COLUMN_TYPES[kind]


def load_config(standin: AppwriteStandin, config: str | Path | dict[str, Any], *, base_dir: str | Path | None) -> None:
    if isinstance(config, str | Path):
        path = Path(config)
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        base = Path(base_dir) if base_dir else path.parent
    else:
        data = config
        base = Path(base_dir) if base_dir else Path.cwd()
    state = standin.state
    now = standin.stamp()
    with state.lock:
        if data.get("projectId"):
            state.project_id = str(data["projectId"])
        for spec in [*data.get("databases", []), *data.get("tablesDB", [])]:
            state.databases[spec["$id"]] = Database(
                spec["$id"], spec.get("name", spec["$id"]), bool(spec.get("enabled", True)), now, now
            )
        for spec in [*data.get("collections", []), *data.get("tables", [])]:
            database = state.databases.get(spec["databaseId"])
            if database is None:
                raise ValueError(f"table {spec['$id']!r}: database {spec['databaseId']!r} is not in the config")
            table = Table(
                spec["$id"],
                database.id,
                spec.get("name", spec["$id"]),
                aggregate_permissions(spec.get("$permissions", []), ("read", "create", "update", "delete", "write")),
                bool(spec.get("rowSecurity", spec.get("documentSecurity", True))),
                bool(spec.get("enabled", True)),
                now,
                now,
            )
            for column_spec in spec.get("columns", spec.get("attributes", [])):
                column = make_column(column_kind(column_spec), column_spec, now)
                table.columns[column.key] = column
            for index_spec in spec.get("indexes", []):
                columns = list(index_spec.get("columns", index_spec.get("attributes", [])))
                unknown = [c for c in columns if c not in table.columns and not c.startswith("$")]
                if unknown:
                    raise ValueError(f"index {index_spec['key']!r} of {spec['$id']!r}: unknown columns {unknown}")
                table.indexes[index_spec["key"]] = Index(
                    index_spec["key"],
                    index_spec["type"],
                    columns,
                    list(index_spec.get("orders", [])),
                    list(index_spec.get("lengths", [])),
                    now,
                    now,
                )
            database.tables[table.id] = table
        for spec in data.get("teams", []):
            if spec["$id"] not in state.teams:
                standin.add_team(spec.get("name", spec["$id"]), spec["$id"])
        for spec in data.get("functions", []):
            folder = base / spec["path"] if spec.get("path") else None
            entrypoint = spec.get("entrypoint", "")
            code = folder / entrypoint if folder is not None and entrypoint else None
            standin.add_function(
                spec["$id"],
                entrypoint_file=code,
                root=folder,
                name=spec.get("name"),
                runtime_name=spec.get("runtime", "python-3.11"),
                execute=spec.get("execute", []),
                scopes=spec.get("scopes", []),
                variables=dict(spec.get("vars", {})),
                timeout=int(spec.get("timeout", 15)),
                entrypoint=entrypoint,
            )
            function = state.functions[spec["$id"]]
            function.enabled = bool(spec.get("enabled", True))
            function.logging = bool(spec.get("logging", True))
            function.events = list(spec.get("events", []))
            function.schedule = str(spec.get("schedule", ""))

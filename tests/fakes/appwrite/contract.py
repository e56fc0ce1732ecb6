"""The published Appwrite contract: every request the stand-in receives and every body it sends is checked against
the OpenAPI 3.0 spec in ``shared/appwrite/`` (the server API, 1.9.3). Violations are recorded, not raised: the
stand-in still answers (as Appwrite would), and the ``appwrite_server`` fixture fails the test at teardown.

Where the spec and the real server (or SDK 27, which the project pins) disagree, the stand-in follows reality and the
difference is listed in ``SPEC_OVERRIDES`` or ``EXTRA_OPERATIONS``, each with its reason; tests assert every one.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[4] / "shared" / "appwrite" / "open-api3-1.9.3-server.json"
if not SPEC_PATH.exists():  # the steering folder sits beside the work trees: /work/shared
    SPEC_PATH = Path("/work/shared/appwrite/open-api3-1.9.3-server.json")
SDK_ENDPOINTS_PATH = SPEC_PATH.with_name("appwrite-sdk27-endpoints.tsv")
_SPEC_URI = "urn:appwrite:server-spec"

# Where the stand-in deliberately departs from the 1.9.3 spec, and why (asserted in tests/test_appwrite_standin.py).
SPEC_OVERRIDES: dict[str, str] = {
    "oneOf": "read as anyOf: the column models overlap (a float column is also a valid integer and boolean column, "
    "none of them forbids other properties), so the spec's oneOf rejects every real column",
    "error.code": "the spec types it as a string; the real server sends the HTTP status as an integer "
    "(app/controllers/general.php builds the error with 'code' => $code and Response::output does not cast)",
}

# Operations that the server has but the server spec omits: (METHOD, path) → (response schema, reason).
EXTRA_OPERATIONS: dict[tuple[str, str], tuple[dict[str, Any], str]] = {
    ("GET", "/health/version"): (
        {
            "type": "object",
            "properties": {"version": {"type": "string"}},
            "required": ["version"],
        },
        "public route (scope 'public', no SDK method) absent from the server spec; body {'version': ...}",
    ),
}


@dataclass(frozen=True)
class Violation:
    """One departure from the contract, with what was sent or received."""

    where: str  # "request" or "response"
    method: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.where} {self.method} {self.path}: {self.message}"


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` → JSON Schema ``anyOf [..., null]``, and ``oneOf`` → ``anyOf``
    (SPEC_OVERRIDES["oneOf"]), recursively."""
    if isinstance(node, list):
        return [_nullable_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {("anyOf" if key == "oneOf" else key): _nullable_to_jsonschema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


@cache
def _registry_and_schemas() -> tuple[Registry[Any], dict[str, Any]]:
    spec = load_spec()
    schemas = _nullable_to_jsonschema(copy.deepcopy(spec["components"]["schemas"]))
    schemas["error"]["properties"]["code"] = {"type": ["string", "integer"]}  # SPEC_OVERRIDES["error.code"]
    document = {"components": {"schemas": schemas}}
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    return Registry().with_resource(_SPEC_URI, resource), schemas


@cache
def _validator_for(schema_json: str) -> Draft202012Validator:
    registry, _ = _registry_and_schemas()
    return Draft202012Validator(json.loads(schema_json), registry=registry)


def _schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    schema = _nullable_to_jsonschema(schema)
    schema = json.loads(json.dumps(schema).replace('"#/components/schemas/', f'"{_SPEC_URI}#/components/schemas/'))
    validator = _validator_for(json.dumps(schema, sort_keys=True))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<body>'}: {error.message}"
        for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    ][:5]


def schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def validate_against(schema_name: str, value: Any) -> list[str]:
    """Errors of ``value`` against ``components.schemas[schema_name]`` (empty when it conforms)."""
    return _schema_errors(schema_ref(schema_name), value)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # spec path template, e.g. /tablesdb/{databaseId}/tables
    spec: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.spec.get("operationId", ""))

    def body_schema(self) -> dict[str, Any] | None:
        content = (self.spec.get("requestBody") or {}).get("content") or {}
        for media in ("application/json", "multipart/form-data"):
            if media in content:
                schema: dict[str, Any] = content[media]["schema"]
                return schema
        return None

    def query_parameters(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.spec.get("parameters", []) if p.get("in") == "query"}

    def response_schema(self, status: int) -> tuple[dict[str, Any] | None, bool]:
        """(schema, documented): the schema for ``status``; an undocumented success status falls back to the
        operation's documented success schema (documented=False so the caller can note it)."""
        responses: dict[str, Any] = self.spec.get("responses", {})
        entry = responses.get(str(status))
        documented = entry is not None
        if entry is None and 200 <= status < 300:
            entry = next((v for k, v in responses.items() if k.startswith("2")), None)
        if entry is None:
            return None, documented
        content = entry.get("content") or {}
        for media in ("application/json", "multipart/form-data"):
            if media in content:
                schema: dict[str, Any] = content[media]["schema"]
                return schema, documented
        return None, documented


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


@cache
def operations() -> dict[str, list[tuple[re.Pattern[str], Operation]]]:
    by_method: dict[str, list[tuple[re.Pattern[str], Operation]]] = {}
    for template, entry in load_spec()["paths"].items():
        for method, spec in entry.items():
            if method in ("get", "post", "put", "patch", "delete"):
                op = Operation(method.upper(), template, spec)
                by_method.setdefault(method.upper(), []).append((_template_regex(template), op))
    for ops in by_method.values():  # literal segments win over parameters: /rows/query before /rows/{rowId}
        ops.sort(key=lambda item: item[1].template.count("{"))
    return by_method


def find_operation(method: str, path: str) -> Operation | None:
    """The spec operation for a concrete API path (without the /v1 prefix)."""
    for pattern, op in operations().get(method.upper(), []):
        if pattern.match(path):
            return op
    return None


@cache
def sdk_endpoints() -> list[tuple[str, str, str]]:
    """(python_method, HTTP verb, path) of every SDK 27 method in appwrite-sdk27-endpoints.tsv."""
    rows = SDK_ENDPOINTS_PATH.read_text(encoding="utf-8").splitlines()[1:]
    return [(cols[0], cols[1], cols[2]) for cols in (row.split("\t") for row in rows)]


class Contract:
    """Checks requests and responses against the spec and keeps the violations (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._violations: list[Violation] = []
        self.undocumented_statuses: set[tuple[str, str, int]] = set()

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    def take(self) -> list[Violation]:
        """The violations so far, clearing them (for tests that provoke one on purpose)."""
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    def record(self, violation: Violation) -> None:
        with self._lock:
            self._violations.append(violation)

    def check_request(
        self, method: str, path: str, query: dict[str, Any], body: dict[str, Any] | None, project: str | None
    ) -> Operation | None:
        if (method, path) in EXTRA_OPERATIONS:
            return None
        op = find_operation(method, path)
        if op is None:
            self.record(Violation("request", method, path, "no such operation in the spec"))
            return None
        security = op.spec.get("security") or [{}]
        if any("Project" in s for s in security) and not project:
            self.record(Violation("request", method, path, "X-Appwrite-Project header missing"))
        params = op.query_parameters()
        for name, value in query.items():
            if name not in params:
                self.record(Violation("request", method, path, f"unknown query parameter {name!r}"))
                continue
            for error in _schema_errors(params[name].get("schema", {}), value):
                self.record(Violation("request", method, path, f"query parameter {name}: {error}"))
        for name, param in params.items():
            if param.get("required") and name not in query:
                self.record(Violation("request", method, path, f"required query parameter {name!r} missing"))
        schema = op.body_schema()
        if body:
            if schema is None:
                self.record(Violation("request", method, path, f"body parameters {sorted(body)} not in the spec"))
            else:
                properties = schema.get("properties", {})
                for name, value in body.items():
                    if name not in properties:
                        self.record(Violation("request", method, path, f"unknown body parameter {name!r}"))
                        continue
                    for error in _schema_errors(properties[name], value):
                        self.record(Violation("request", method, path, f"body parameter {name}: {error}"))
        if schema is not None:
            for name in schema.get("required", []):
                if not body or name not in body:
                    self.record(Violation("request", method, path, f"required body parameter {name!r} missing"))
        return op

    def check_response(self, method: str, path: str, op: Operation | None, status: int, body: Any) -> None:
        if (method, path) in EXTRA_OPERATIONS:
            schema: dict[str, Any] | None = EXTRA_OPERATIONS[(method, path)][0] if status < 400 else schema_ref("error")
        elif status >= 400:
            schema = schema_ref("error")
        elif op is None:
            return
        else:
            schema, documented = op.response_schema(status)
            if not documented:
                with self._lock:
                    self.undocumented_statuses.add((method, op.template, status))
            if schema is None:
                if body not in (None, b"", ""):
                    self.record(Violation("response", method, path, f"{status} has a body but the spec has none"))
                return
        if body is None:
            self.record(Violation("response", method, path, f"{status} has no JSON body"))
            return
        assert schema is not None
        for error in _schema_errors(schema, body):
            self.record(Violation("response", method, path, f"{status}: {error}"))

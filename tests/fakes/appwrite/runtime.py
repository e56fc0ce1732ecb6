"""Runs a function's real code in-process with a context compatible with open-runtimes' Python runtime
(runtimes/python/versions/latest/src: function_types.py, server.py, logger.py).

What open-runtimes does and the stand-in does too: ``context.req`` (``body_binary``, ``body_text``, ``body_raw``,
``body_json``, ``body``, lower-case ``headers``, ``method``, ``path``, ``query``, ``query_string``, ``scheme``,
``host``, ``port``, ``url``), ``context.res`` (``binary``, ``text``, ``send``, ``json``, ``empty``, ``redirect``,
each taking ``statusCode`` (camel case, as the runtime names it) and ``headers``), ``context.log``/``context.error``;
an exception becomes a 500 with the traceback in the errors; a missing return too; async ``main`` is awaited.

What differs: the code runs in this process, one execution at a time (environment variables are process-wide);
``print`` is not captured into the logs; a module is imported once per stand-in (a warm runtime).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

EXECUTION_LOCK = threading.Lock()  # environment variables are per process: one execution at a time


class Request:
    def __init__(self) -> None:
        self.body_binary: bytes = b""
        self.headers: dict[str, str] = {}
        self.method = "POST"
        self.url = ""
        self.path = "/"
        self.port = 80
        self.query: dict[str, str] = {}
        self.query_string = ""
        self.scheme = "http"
        self.host = ""

    @property
    def body_text(self) -> str:
        return self.body_binary.decode("utf-8")

    @property
    def body_raw(self) -> str:
        return self.body_text

    @property
    def body_json(self) -> Any:
        return json.loads(self.body_text)

    @property
    def body(self) -> Any:
        content_type = self.headers.get("content-type", "text/plain").lower()
        if content_type.startswith("application/json"):
            return self.body_json if self.body_binary else {}
        return self.body_text


class Response:
    def binary(self, data: bytes, statusCode: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return {"body": data, "statusCode": statusCode, "headers": dict(headers or {})}

    def text(self, body: str, statusCode: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self.binary(body.encode("utf-8"), statusCode, headers)

    def send(self, body: Any, statusCode: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return {"body": body, "statusCode": statusCode, "headers": dict(headers or {})}

    def json(self, obj: Any, statusCode: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
        headers = dict(headers or {})
        headers["content-type"] = "application/json"
        return self.text(json.dumps(obj, separators=(",", ":")), statusCode, headers)

    def empty(self) -> dict[str, Any]:
        return self.text("", 204, {})

    def redirect(self, url: str, statusCode: int = 301, headers: dict[str, str] | None = None) -> dict[str, Any]:
        headers = dict(headers or {})
        headers["location"] = url
        return self.text("", statusCode, headers)


def _render(messages: tuple[Any, ...]) -> str:
    return " ".join(
        json.dumps(m, separators=(",", ":")) if isinstance(m, list | dict | tuple) else str(m) for m in messages
    )


class Context:
    def __init__(self) -> None:
        self.req = Request()
        self.res = Response()
        self._logs: list[str] = []
        self._errors: list[str] = []

    def log(self, *messages: Any) -> None:
        self._logs.append(_render(messages) + "\n")

    def error(self, *messages: Any) -> None:
        self._errors.append(_render(messages) + "\n")


@dataclass
class RunResult:
    status_code: int
    body: bytes
    headers: dict[str, str]
    logs: str
    errors: str
    duration: float
    extra: dict[str, Any] = field(default_factory=dict)


_modules: dict[tuple[int, str], ModuleType] = {}
_modules_lock = threading.Lock()


def load_function_module(owner: object, entrypoint_file: str, root: str | None) -> ModuleType:
    """Import the function's entrypoint under a module name of its own, its folders on sys.path for its own
    imports (both the function's root and the entrypoint's folder); once per stand-in instance."""
    key = (id(owner), entrypoint_file)
    with _modules_lock:
        if key in _modules:
            return _modules[key]
        path = Path(entrypoint_file)
        for folder in (str(path.parent), root):
            if folder and folder not in sys.path:
                sys.path.insert(0, folder)
        name = f"_appwrite_function_{abs(hash(key)):x}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"Code file not found: {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _modules[key] = module
        return module


def forget_modules(owner: object) -> None:
    with _modules_lock:
        for key in [k for k in _modules if k[0] == id(owner)]:
            module = _modules.pop(key)
            sys.modules.pop(module.__name__, None)


def run(
    owner: object,
    entrypoint_file: str | None,
    root: str | None,
    context: Context,
    env: dict[str, str],
    clock_seconds: Any,
) -> RunResult:
    """Run ``main(context)`` as open-runtimes does; never raises."""
    start = clock_seconds()
    with EXECUTION_LOCK:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        output: Any = None
        try:
            if entrypoint_file is None:
                raise RuntimeError("Code file not found.")
            module = load_function_module(owner, entrypoint_file, root)
            main = module.main
            output = asyncio.run(main(context)) if asyncio.iscoroutinefunction(main) else main(context)
        except Exception as exc:
            context.error("".join(traceback.TracebackException.from_exception(exc).format()))
            output = context.res.text("", 500, {})
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    if output is None:
        context.error("Return statement missing. return context.res.empty() if no response is expected.")
        output = context.res.text("", 500, {})
    body = output.get("body", b"")
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes | bytearray):
        body = str(body).encode("utf-8")
    status = int(output.get("statusCode", 200))
    raw_headers: dict[str, Any] = output.get("headers", {}) or {}
    headers = {k.lower(): str(v) for k, v in raw_headers.items() if not k.lower().startswith("x-open-runtimes-")}
    content_type = str(raw_headers.get("content-type", "text/plain")).lower()
    if not content_type.startswith("multipart/") and "charset=" not in content_type:
        content_type += "; charset=utf-8"
    headers["content-type"] = content_type
    return RunResult(
        status,
        bytes(body),
        headers,
        "".join(context._logs),
        "".join(context._errors),
        max(0.0, clock_seconds() - start),
    )

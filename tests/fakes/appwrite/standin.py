"""The stand-in server: a real HTTP listener on 127.0.0.1 (a thread), Appwrite's authentication and scopes, fault
injection, a request log, restarts that keep the state, and helpers for test setup."""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import re
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from appwrite.client import Client

from . import api, events, rows, runtime
from .contract import Contract, Operation, Violation, find_operation
from .errors import ApiError
from .routing import Call, Caller, match
from .state import (
    ALL_KEY_SCOPES,
    APP_VERSION,
    GUEST_SCOPES,
    KEY_BASE_SCOPES,
    SESSION_DURATION,
    SESSION_RATE_LIMIT,
    USER_SCOPES,
    ApiKey,
    Clock,
    Execution,
    Function,
    Membership,
    Session,
    State,
    Team,
    User,
    decode_session_secret,
    encode_session_secret,
    format_time,
    new_secret,
    system_clock,
    unique_id,
)
from .tablesdb import row_model

assert api and rows  # the route modules register their routes on import

REQUEST_HEADER_ALLOWLIST = ("content-type", "agent", "content-length", "host", "x-appwrite-client-ip")
DEFAULT_FAULT_TYPES = {
    400: "general_argument_invalid",
    401: "user_unauthorized",
    403: "general_access_forbidden",
    404: "general_route_not_found",
    408: "function_synchronous_timeout",
    409: "transaction_conflict",
    429: "general_rate_limit_exceeded",
    500: "general_server_error",
    502: "general_server_error",
    503: "general_server_error",
}


@dataclass
class Fault:
    """What to do to the next ``times`` requests whose method and path match (``path`` is a regular expression
    matched in full against the request path, e.g. ``/v1/tablesdb/.*/rows``; ``method`` None matches any).

    ``action``: ``drop_before`` (close the connection without handling), ``drop_after`` (handle, commit, then close
    without answering), ``delay`` (wait ``seconds``, then handle), ``status`` (answer ``status`` with Appwrite's
    error body of ``error_type``, default by status; 429 carries X-RateLimit-* and, if given, Retry-After)."""

    action: str
    path: str = ".*"
    method: str | None = None
    times: int = 1
    seconds: float = 0.0
    status: int = 503
    error_type: str | None = None
    message: str | None = None
    retry_after: str | None = None
    used: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.used >= self.times:
            return False
        return (self.method is None or self.method.upper() == method) and re.fullmatch(self.path, path) is not None


@dataclass
class LoggedRequest:
    """One request as the stand-in saw it, and what became of it."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int | None = None  # None: no answer was sent (dropped)
    response_body: bytes = b""
    fault: str | None = None
    handled: bool = False  # the request reached its handler (so its effects, if any, happened)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def response_json(self) -> Any:
        return json.loads(self.response_body) if self.response_body else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.standin._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.standin._connections.discard(self.connection)

    def _serve(self) -> None:
        self.server.standin._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: AppwriteStandin) -> None:
        self.standin = standin
        super().__init__(address, _Handler)


class AppwriteStandin:
    """An Appwrite project served on 127.0.0.1 for tests, driven through the official SDK or httpx.

    ``start()``/``stop()``/``restart()`` run the listener (same port; the state stays); ``clock`` is the server's
    time (``ManualClock`` to control it); ``rate_limits`` switches the login rate limit; ``sync_timeout`` is the
    synchronous execution limit (30 s in Appwrite); ``check_responses`` validates every answer against the OpenAPI
    spec (tests; a benchmark turns it off: it validates every row of every page, work no real server does)."""

    def __init__(
        self,
        project_id: str = "rxdesk-test",
        *,
        clock: Clock | None = None,
        rate_limits: bool = True,
        sync_timeout: float = 30.0,
        revoke_dynamic_keys: bool = True,
        check_responses: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = State(project_id)
        self.clock: Clock = clock or system_clock
        self.rate_limits = rate_limits
        self.sync_timeout = sync_timeout
        self.revoke_dynamic_keys = revoke_dynamic_keys
        self.contract = Contract()
        self.check_responses = check_responses
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.host = host
        self.port = port
        self._lock = threading.Lock()  # requests log and faults
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._async_worker = threading.Lock()
        self._results: dict[str, runtime.RunResult] = {}  # of executions through the function domain

    # ---- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> AppwriteStandin:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="appwrite-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (a crash: requests in flight get no answer)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._server is not None

    def close(self) -> None:
        self.stop()
        for thread in self._threads:
            thread.join(timeout=self.sync_timeout)
        runtime.forget_modules(self)

    def __enter__(self) -> AppwriteStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def project_id(self) -> str:
        return self.state.project_id

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """What a client's ``set_endpoint`` takes."""
        return f"{self.base_url}/v1"

    def function_url(self, function_id: str, path: str = "/") -> str:
        """The function's "domain": plain HTTP straight to the function, raw body untouched (execute "any")."""
        return f"{self.base_url}/function/{function_id}{path if path.startswith('/') else '/' + path}"

    def now(self) -> datetime:
        return self.clock()

    def stamp(self) -> str:
        return format_time(self.clock())

    # ---- contract ---------------------------------------------------------------------------------------------

    @property
    def violations(self) -> list[Violation]:
        return self.contract.violations

    # ---- setup helpers (direct, no HTTP) ----------------------------------------------------------------------

    def client(self, *, key: str | None = None, session: str | None = None, jwt: str | None = None) -> Client:
        """An official SDK client pointed at the stand-in."""
        client = Client().set_endpoint(self.endpoint).set_project(self.project_id)
        if key:
            client.set_key(key)
        if session:
            client.set_session(session)
        if jwt:
            client.set_jwt(jwt)
        return client

    def create_api_key(
        self, scopes: list[str] | None = None, *, name: str = "tests", expire: datetime | None = None
    ) -> str:
        """A project API key (``standard_…``) with ``scopes`` (default: every scope the stand-in serves)."""
        secret = "standard_" + new_secret(64)
        with self.state.lock:
            chosen = frozenset(ALL_KEY_SCOPES if scopes is None else scopes)
            self.state.keys[secret] = ApiKey(secret, name, chosen, expire)
        return secret

    def add_user(
        self,
        *,
        user_id: str = "unique()",
        email: str | None,
        password: str | None,
        name: str = "",
        phone: str = "",
        labels: list[str] | None = None,
    ) -> User:
        user_id = api.check_new_id(user_id, "userId")
        with self.state.lock:
            if user_id in self.state.users:
                raise ApiError("user_already_exists")
            email = email.lower() if email else ""
            if email and any(u.email == email for u in self.state.users.values()):
                raise ApiError("user_already_exists")
            if password is not None and len(password) < 8:
                raise ApiError(
                    "general_argument_invalid", "Invalid `password` param: Password must be at least 8 characters"
                )
            now = self.stamp()
            user = User(
                user_id,
                email,
                api.hash_password(password) if password is not None else None,
                name,
                now,
                now,
                self.state.next_user_sequence,
                labels=list(labels or []),
                phone=phone,
                password_update=now if password else "",
            )
            self.state.next_user_sequence += 1
            self.state.users[user_id] = user
            return user

    def create_user(
        self,
        email: str,
        password: str = "password-123",
        *,
        name: str = "",
        user_id: str = "unique()",
        labels: list[str] | None = None,
    ) -> str:
        """A user who can sign in; returns the user id."""
        return self.add_user(user_id=user_id, email=email, password=password, name=name, labels=labels).id

    def create_session(self, user_id: str) -> str:
        """A session for the user, as if they had signed in; returns the secret a client sends as
        X-Appwrite-Session (no rate limit, no HTTP)."""
        with self.state.lock:
            user = self.state.users[user_id]
            now = self.now()
            raw = new_secret(64)
            session = Session(unique_id(), user.id, raw, now, now + timedelta(seconds=SESSION_DURATION), user.email)
            self.state.sessions[session.id] = session
            return encode_session_secret(user.id, raw)

    def _session_for(self, secret_or_id: str) -> Session | None:
        decoded = decode_session_secret(secret_or_id)
        for session in self.state.sessions.values():
            if session.id == secret_or_id or (decoded and decoded == (session.user_id, session.secret)):
                return session
        return None

    def expire_session(self, secret_or_id: str) -> None:
        """The session's expiry moves to the past (the server's clock): it stops authenticating."""
        with self.state.lock:
            session = self._session_for(secret_or_id)
            if session is None:
                raise KeyError(secret_or_id)
            session.expire = self.now() - timedelta(seconds=1)

    def revoke_sessions(self, user_id: str) -> None:
        """Every session of the user is deleted (e.g. signed out everywhere, or the password was changed)."""
        with self.state.lock:
            for session in self.state.sessions.values():
                if session.user_id == user_id:
                    session.revoked = True

    def block_user(self, user_id: str, blocked: bool = True) -> None:
        with self.state.lock:
            self.state.users[user_id].status = not blocked

    def add_team(self, name: str, team_id: str = "unique()") -> Team:
        team_id = api.check_new_id(team_id, "teamId")
        with self.state.lock:
            if team_id in self.state.teams:
                raise ApiError("team_already_exists")
            now = self.stamp()
            team = Team(team_id, name, now, now)
            self.state.teams[team_id] = team
            return team

    def create_team(self, name: str, team_id: str = "unique()") -> str:
        return self.add_team(name, team_id).id

    def add_member(
        self, team_id: str, user_id: str, roles: list[str] | tuple[str, ...] = (), *, confirm: bool = True
    ) -> Membership:
        with self.state.lock:
            if team_id not in self.state.teams:
                raise ApiError("team_not_found")
            if user_id not in self.state.users:
                raise ApiError("user_not_found")
            if any(m.team_id == team_id and m.user_id == user_id for m in self.state.memberships.values()):
                raise ApiError("membership_already_confirmed")
            now = self.stamp()
            membership = Membership(
                unique_id(), team_id, user_id, list(roles), now, now, now, now if confirm else "", confirm
            )
            self.state.memberships[membership.id] = membership
            return membership

    def add_membership(self, team_id: str, user_id: str, roles: list[str] | tuple[str, ...] = ()) -> str:
        return self.add_member(team_id, user_id, roles).id

    def add_function(
        self,
        function_id: str,
        *,
        entrypoint_file: str | Path | None,
        root: str | Path | None = None,
        name: str | None = None,
        runtime_name: str = "python-3.11",
        execute: list[str] | None = None,
        scopes: list[str] | None = None,
        variables: dict[str, str] | None = None,
        timeout: int = 15,
        entrypoint: str = "",
    ) -> Function:
        with self.state.lock:
            now = self.stamp()
            function = Function(
                function_id,
                name or function_id,
                runtime_name,
                list(execute or []),
                list(scopes or []),
                str(entrypoint_file) if entrypoint_file else None,
                str(root) if root else (str(Path(entrypoint_file).parent) if entrypoint_file else None),
                dict(variables or {}),
                timeout,
                entrypoint=entrypoint,
                created_at=now,
                updated_at=now,
            )
            self.state.functions[function_id] = function
            return function

    def set_function_variables(self, function_id: str, variables: dict[str, str]) -> None:
        """The function's own environment variables (merged over those already set)."""
        with self.state.lock:
            self.state.functions[function_id].variables.update(variables)

    def load_config(self, config: str | Path | dict[str, Any], *, base_dir: str | Path | None = None) -> None:
        """Load an Appwrite CLI project file (``appwrite.config.json``) into the state: see ``config.py``."""
        from .config import load_config

        load_config(self, config, base_dir=base_dir)

    def rows(self, database_id: str, table_id: str) -> list[dict[str, Any]]:
        """Every row of a table as the API would return it (for assertions), in creation order."""
        with self.state.lock:
            table = self.state.databases[database_id].tables[table_id]
            return [row_model(table, r) for r in sorted(table.rows.values(), key=lambda r: r.sequence)]

    # ---- faults, log, replay ----------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def drop_before(self, method: str | None, path: str, times: int = 1) -> Fault:
        return self.inject(Fault("drop_before", path, method, times))

    def drop_after(self, method: str | None, path: str, times: int = 1) -> Fault:
        return self.inject(Fault("drop_after", path, method, times))

    def delay(self, method: str | None, path: str, seconds: float, times: int = 1) -> Fault:
        return self.inject(Fault("delay", path, method, times, seconds=seconds))

    def fail(
        self,
        method: str | None,
        path: str,
        status: int,
        times: int = 1,
        *,
        error_type: str | None = None,
        message: str | None = None,
        retry_after: str | None = None,
    ) -> Fault:
        return self.inject(
            Fault(
                "status",
                path,
                method,
                times,
                status=status,
                error_type=error_type,
                message=message,
                retry_after=retry_after,
            )
        )

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests_matching(self, method: str | None = None, path: str = ".*") -> list[LoggedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper()) and re.fullmatch(path, r.path)
            ]

    def replay_last(self, method: str | None = None, path: str = ".*") -> tuple[int, dict[str, str], bytes]:
        """Send the last matching request again, byte for byte (a duplicate delivery); its answer."""
        found = self.requests_matching(method, path)
        if not found:
            raise LookupError(f"no request {method} {path} to replay")
        last = found[-1]
        connection = http.client.HTTPConnection(self.host, self.port, timeout=max(self.sync_timeout, 10))
        try:
            target = last.path + (f"?{last.query_string}" if last.query_string else "")
            headers = {k: v for k, v in last.headers.items() if k not in ("host", "content-length", "connection")}
            connection.request(last.method, target, body=last.body, headers=headers)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.used += 1
                    return fault
        return None

    # ---- serving ----------------------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        method = handler.command
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        entry = LoggedRequest(method, split.path, split.query, headers, body, time.time())
        with self._lock:
            self.requests.append(entry)
        fault = self._take_fault(method, split.path)
        if fault is not None:
            entry.fault = fault.action
            if fault.action == "delay":
                time.sleep(fault.seconds)
            elif fault.action == "drop_before":
                self._drop(handler)
                return
            elif fault.action == "status":
                self._send(handler, entry, *self._fault_answer(fault))
                return
        client_ip = handler.client_address[0]
        entry.handled = True
        if split.path.startswith("/v1/"):
            status, out_headers, payload = self._api(method, split.path[3:], split.query, headers, body, client_ip)
        elif split.path.startswith("/function/"):
            status, out_headers, payload = self._function_domain(
                method, split.path, split.query, headers, body, client_ip
            )
        else:
            status, out_headers, payload = self._error_answer(ApiError("general_route_not_found"))
        if fault is not None and fault.action == "drop_after":
            entry.status = None
            self._drop(handler)
            return
        self._send(handler, entry, status, out_headers, payload)

    def _drop(self, handler: _Handler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    def _send(
        self, handler: _Handler, entry: LoggedRequest, status: int, headers: dict[str, str], payload: bytes
    ) -> None:
        entry.status, entry.response_body = status, payload
        handler.close_connection = True
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(payload)
        except OSError:
            pass

    def _error_answer(self, error: ApiError) -> tuple[int, dict[str, str], bytes]:
        body = {"message": error.message, "code": error.code, "type": error.type, "version": APP_VERSION}
        headers = {"Content-Type": "application/json; charset=UTF-8", **error.headers}
        return error.code, headers, json.dumps(body).encode()

    def _fault_answer(self, fault: Fault) -> tuple[int, dict[str, str], bytes]:
        error_type = fault.error_type or DEFAULT_FAULT_TYPES.get(fault.status, "general_server_error")
        error = ApiError(error_type, fault.message, code=fault.status)
        if fault.status == 429:
            reset = int(self.now().timestamp()) + 3600
            error.headers.update(
                {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
            )
        if fault.retry_after is not None:
            error.headers["Retry-After"] = fault.retry_after
        return self._error_answer(error)

    def _api(
        self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        query = _parse_query(query_string)
        body_params: dict[str, Any] = {}
        bad_body = False
        if body and method != "GET":
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed, bad_body = None, True
            if isinstance(parsed, dict):
                body_params = parsed
            else:
                bad_body = True
        project = headers.get("x-appwrite-project")
        spec_op = find_operation(method, path)
        if spec_op is not None:
            query = _coerce_query(spec_op, query)
        op: Operation | None = self.contract.check_request(method, path, query, body_params, project)
        try:
            if bad_body:
                raise ApiError("general_argument_invalid", "The request body is not a JSON object")
            found = match(method, path)
            if found is None:
                raise ApiError("general_route_not_found")
            route, params = found
            if route.needs_project and project != self.project_id:
                raise ApiError("project_not_found")
            with self.state.lock:
                caller = self._authenticate(headers) if route.needs_project else Caller("guest", {"any"}, GUEST_SCOPES)
            if route.scopes != ("public",) and not set(route.scopes) & caller.scopes:
                missing = json.dumps(list(route.scopes))
                raise ApiError(
                    "general_unauthorized_scope",
                    f"{caller.email_label} (role: {caller.role_label}) missing scopes ({missing})",
                )
            call = Call(self, method, path, params, query, body_params, headers, caller, client_ip)
            if route.locked:
                with self.state.lock:
                    reply = route.handler(call)
            else:
                reply = route.handler(call)
        except ApiError as error:
            status, out, payload = self._error_answer(error)
            if self.check_responses:
                self.contract.check_response(method, path, op, status, json.loads(payload))
            return status, out, payload
        except Exception as exc:  # a bug in the stand-in: answer as Appwrite does, and fail the test
            self.contract.record(
                Violation(
                    "response",
                    method,
                    path,
                    "stand-in raised " + "".join(traceback.format_exception_only(type(exc), exc)).strip(),
                )
            )
            traceback.print_exc()
            return self._error_answer(ApiError("general_unknown", "Server Error"))
        if self.check_responses:
            self.contract.check_response(method, path, op, reply.status, reply.body)
        out_headers = {
            "Content-Type": "application/json; charset=UTF-8" if reply.body is not None else "text/html; charset=UTF-8",
            **reply.headers,
        }
        return reply.status, out_headers, reply.encode()

    def _authenticate(self, headers: dict[str, str]) -> Caller:
        """Who is calling (app/init/resources/request.php 'user' and 'apiKey', app/controllers/shared/api.php)."""
        state = self.state
        now = self.now()
        user: User | None = None
        session: Session | None = None
        cookie = f"a_session_{state.project_id}"
        encoded = headers.get("x-appwrite-session", "")
        if not encoded:
            cookies = dict(part.strip().split("=", 1) for part in headers.get("cookie", "").split(";") if "=" in part)
            encoded = cookies.get(cookie, "")
        if not encoded and headers.get("x-fallback-cookies"):
            with contextlib.suppress(ValueError, AttributeError):
                encoded = json.loads(headers["x-fallback-cookies"]).get(cookie, "")
        decoded = decode_session_secret(encoded) if encoded else None
        if decoded is not None:
            for candidate in state.sessions.values():
                if (
                    (candidate.user_id, candidate.secret) == decoded
                    and not candidate.revoked
                    and candidate.expire > now
                ):
                    session, user = candidate, state.users.get(candidate.user_id)
                    break
        jwt = headers.get("x-appwrite-jwt", "")
        if jwt:
            if user is not None:
                raise ApiError("user_jwt_and_cookie_set")
            entry = state.jwts.get(jwt)
            if entry is None or entry[2] < now:
                raise ApiError("user_jwt_invalid", "Failed to verify JWT. Expired token")
            jwt_session = state.sessions.get(entry[1])
            if jwt_session is not None and not jwt_session.revoked and jwt_session.expire > now:
                session, user = jwt_session, state.users.get(entry[0])
        key_header = headers.get("x-appwrite-key", "")
        if key_header:
            key = state.keys.get(key_header)
            if key is None and not key_header.startswith(("standard_", "ephemeral_", "dynamic_")):
                key = state.keys.get("standard_" + key_header)
            if key is not None:
                if key.revoked or (key.expire is not None and key.expire < now):
                    raise ApiError("project_key_expired")
                return Caller(
                    "key",
                    {"any"},
                    key.scopes | KEY_BASE_SCOPES,
                    key=key,
                    email_label=f"app.{state.project_id}@service.{self.host}",
                    role_label="applications",
                )
            return Caller("guest", {"any", "guests"}, GUEST_SCOPES)  # an unknown key: a guest's key
        if user is None:
            return Caller("guest", {"any", "guests"}, GUEST_SCOPES)
        if not user.status:
            raise ApiError("user_blocked")
        return Caller(
            "user",
            state.user_roles(user),
            USER_SCOPES,
            user=user,
            session=session,
            email_label=user.email or "User",
            role_label="users",
        )

    # ---- login rate limit -------------------------------------------------------------------------------------

    def _rate_key(self, email: str) -> str:
        return f"url:{self.host}/v1/account/sessions/email,email:{email}"

    def check_session_rate_limit(self, call: Call, email: str) -> dict[str, str]:
        """Appwrite's abuse check on session creation: 10 an hour per email (a fixed window); a success (201)
        resets it; API keys are exempt. Returns the X-RateLimit-* headers; raises 429 past the limit."""
        if call.caller.is_key:
            return {}
        limit, window = SESSION_RATE_LIMIT
        now = int(self.now().timestamp())
        start = now - now % window
        key = self._rate_key(email)
        window_start, count = self.state.rate_limit_hits.get(key, (start, 0))
        if window_start != start:
            count = 0
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": str(start + window),
        }
        if not self.rate_limits:
            return headers
        if count >= limit:
            raise ApiError("general_rate_limit_exceeded", headers=headers)
        self.state.rate_limit_hits[key] = (start, count + 1)
        return headers

    def reset_session_rate_limit(self, email: str) -> None:
        self.state.rate_limit_hits.pop(self._rate_key(email), None)

    @staticmethod
    def fallback_cookies_header(cookie: str, encoded: str) -> str:
        """PHP's json_encode([$key => $value]): slashes escaped."""
        return json.dumps({cookie: encoded}, separators=(",", ":")).replace("/", "\\/")

    # ---- functions --------------------------------------------------------------------------------------------

    def execute_function(
        self,
        function: Function,
        *,
        trigger_headers: dict[str, str],
        body: bytes,
        path: str,
        method: str,
        user: User | None,
        session: Session | None,
        client_ip: str,
        asynchronous: bool,
        trigger: str = "http",
        event: str | None = None,
    ) -> Execution:
        """Create an execution and run the function's code (in a thread; waited for unless asynchronous).
        ``trigger``: http, event (``event`` its name) or schedule."""
        state = self.state
        with state.lock:
            now = self.stamp()
            execution_id = unique_id()
            key = ApiKey(
                "ephemeral_" + new_secret(48), f"Execution {execution_id}", frozenset(function.scopes), dynamic=True
            )
            state.keys[key.secret] = key
            jwt = ""
            if session is not None and user is not None:
                jwt = "jwt_" + new_secret(48)
                state.jwts[jwt] = (user.id, session.id, self.now() + timedelta(seconds=function.timeout + 60))
            headers = {k.lower(): v for k, v in trigger_headers.items()}
            headers.update(
                {
                    "x-appwrite-execution-id": execution_id,
                    "x-appwrite-key": key.secret,
                    "x-appwrite-trigger": trigger,
                    "x-appwrite-user-id": user.id if user else "",
                    "x-appwrite-user-jwt": jwt,
                    "x-appwrite-country-code": "",
                    "x-appwrite-continent-code": "",
                    "x-appwrite-continent-eu": "false",
                    "x-appwrite-client-ip": client_ip,
                }
            )
            if event is not None:
                headers["x-appwrite-event"] = event
            execution = Execution(
                execution_id,
                function.id,
                now,
                now,
                [f'read("user:{user.id}")'] if user else [],
                trigger,
                "waiting" if asynchronous else "processing",
                method,
                path,
                [{"name": k, "value": v} for k, v in headers.items() if k in REQUEST_HEADER_ALLOWLIST],
            )
            state.executions[execution_id] = execution
            env = {
                **function.variables,
                "APPWRITE_FUNCTION_API_ENDPOINT": self.endpoint,
                "APPWRITE_FUNCTION_ID": function.id,
                "APPWRITE_FUNCTION_NAME": function.name,
                "APPWRITE_FUNCTION_DEPLOYMENT": "standin",
                "APPWRITE_FUNCTION_PROJECT_ID": state.project_id,
                "APPWRITE_FUNCTION_RUNTIME_NAME": "Python",
                "APPWRITE_FUNCTION_RUNTIME_VERSION": function.runtime.rsplit("-", 1)[-1],
                "APPWRITE_FUNCTION_CPUS": "1",
                "APPWRITE_FUNCTION_MEMORY": "512",
                "APPWRITE_VERSION": APP_VERSION,
                "APPWRITE_REGION": "default",
            }
        context = runtime.Context()
        request_path, _, query_string = path.partition("?")
        context.req.body_binary = body
        context.req.method = method
        context.req.headers = dict(headers)
        context.req.path = request_path or "/"
        context.req.query_string = query_string
        context.req.query = dict(
            ([*pair.split("=", 1), ""])[:2] for pair in query_string.split("&") if pair and pair.split("=", 1)[0]
        )
        context.req.scheme = "http"
        context.req.host = self.host
        context.req.port = self.port
        context.req.url = f"http://{self.host}:{self.port}{context.req.path}" + (
            f"?{query_string}" if query_string else ""
        )

        def work() -> None:
            # Asynchronous executions queue for the functions worker, one at a time (Appwrite's worker pool):
            # a burst of them (a row event each) never stands between a synchronous execution and the runtime.
            with self._async_worker if asynchronous else contextlib.nullcontext():
                with state.lock:
                    if asynchronous:
                        execution.status = "processing"
                result = runtime.run(self, function.entrypoint_file, function.root, context, env, time.monotonic)
            with state.lock:
                execution.status = "failed" if result.status_code >= 500 else "completed"
                execution.response_status_code = result.status_code
                execution.response_body = result.body.decode("utf-8", errors="replace")
                execution.response_headers = [{"name": k, "value": v} for k, v in result.headers.items()]
                execution.response_headers.append({"name": "x-appwrite-execution-id", "value": execution.id})
                execution.logs = result.logs if function.logging else ""
                execution.errors = result.errors if function.logging else ""
                execution.duration = result.duration
                execution.updated_at = self.stamp()
                self._results[execution.id] = result
                if self.revoke_dynamic_keys:
                    key.revoked = True

        answer = copy.copy(execution)  # as it stood when created (an async one is still "waiting")
        thread = threading.Thread(target=work, name=f"execution-{execution_id}", daemon=True)
        self._threads.append(thread)
        thread.start()
        if not asynchronous:
            thread.join(timeout=self.sync_timeout)
            if thread.is_alive():
                raise ApiError("function_synchronous_timeout")
            return execution
        return answer

    # ---- events and schedules -----------------------------------------------------------------------------------

    def raise_row_event(
        self, database_id: str, table_id: str, row: dict[str, Any], action: str, user: User | None = None
    ) -> list[Execution]:
        """A row was written (``row`` as the API returns it): every enabled function subscribed to the event runs
        asynchronously with it (see ``events.py``). Called by the row endpoints and by a transaction's commit."""
        name = events.row_event(database_id, table_id, str(row["$id"]), action)
        with self.state.lock:
            listeners = [f for f in self.state.functions.values() if f.enabled and events.subscribed(f.events, name)]
        body = json.dumps(row, separators=(",", ":")).encode("utf-8")
        return [
            self.execute_function(
                function,
                trigger_headers={"content-type": "application/json"},
                body=body,
                path="/",
                method="POST",
                user=user,
                session=None,
                client_ip="",
                asynchronous=True,
                trigger="event",
                event=name,
            )
            for function in listeners
        ]

    def run_schedule(self, function_id: str) -> Execution:
        """Run the function as its CRON schedule would (``x-appwrite-trigger: schedule``), and wait for it."""
        with self.state.lock:
            function = self.state.functions[function_id]
        started = self.execute_function(
            function,
            trigger_headers={},
            body=b"",
            path="/",
            method="POST",
            user=None,
            session=None,
            client_ip="",
            asynchronous=True,
            trigger="schedule",
        )
        self.wait_for_executions()
        with self.state.lock:
            return copy.copy(self.state.executions[started.id])

    def wait_for_executions(self, timeout: float = 30.0) -> None:
        """Wait until no execution is running or waiting (those the ones waited for start included: a function that
        writes rows may raise events of its own). TimeoutError past ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.state.lock:
                running = [t for t in self._threads if t.is_alive()]
            if not running:
                return
            for thread in running:
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    raise TimeoutError(f"an execution still runs after {timeout} s ({thread.name})")

    def executions(self, function_id: str | None = None, trigger: str | None = None) -> list[Execution]:
        """The executions so far (copies), oldest first, of one function and trigger if given."""
        with self.state.lock:
            return [
                copy.copy(e)
                for e in self.state.executions.values()
                if (function_id is None or e.function_id == function_id) and (trigger is None or e.trigger == trigger)
            ]

    def _function_domain(
        self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        _, _, function_id, *rest = path.split("/", 3)
        with self.state.lock:
            function = self.state.functions.get(function_id)
        try:
            if function is None or not function.enabled:
                raise ApiError("function_not_found")
            if not {"any", "guests"} & set(function.execute):
                raise ApiError("function_execute_permission_missing")
            trigger = {k: v for k, v in headers.items() if not k.startswith("x-appwrite-")}
            target = "/" + (rest[0] if rest else "") + (f"?{query_string}" if query_string else "")
            execution = self.execute_function(
                function,
                trigger_headers=trigger,
                body=body,
                path=target,
                method=method,
                user=None,
                session=None,
                client_ip=client_ip,
                asynchronous=False,
            )
        except ApiError as error:
            return self._error_answer(error)
        with self.state.lock:
            result = self._results.pop(execution.id)
        out = dict(result.headers)
        out["x-appwrite-execution-id"] = execution.id
        return result.status_code, out, result.body


def _parse_query(query_string: str) -> dict[str, Any]:
    """PHP-style parameters: ``queries[0]=…`` or ``queries[]=…`` make a list."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        found = re.fullmatch(r"(\w+)\[(\d*)\]", key)
        if found:
            out.setdefault(found.group(1), []).append(value)
        else:
            out[key] = value
    return out


def _coerce_query(op: Operation, query: dict[str, Any]) -> dict[str, Any]:
    """Query-string values typed as the spec declares them (booleans and integers)."""
    params = op.query_parameters()
    out: dict[str, Any] = {}
    for name, value in query.items():
        kind = params.get(name, {}).get("schema", {}).get("type")
        if kind == "boolean" and value in ("true", "false", "1", "0"):
            out[name] = value in ("true", "1")
        elif kind == "integer" and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            out[name] = int(value)
        else:
            out[name] = value
    return out

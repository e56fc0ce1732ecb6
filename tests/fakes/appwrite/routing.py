"""What a handler gets (``Call``: the request, its caller) and gives back (``Reply``), and the route table."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .state import ApiKey, Session, User

if TYPE_CHECKING:
    from .standin import AppwriteStandin


@dataclass
class Caller:
    """Who is calling: an API key (permissions bypassed), a signed-in user, or a guest."""

    kind: str  # "key", "user" or "guest"
    roles: set[str]
    scopes: frozenset[str]
    user: User | None = None
    session: Session | None = None
    key: ApiKey | None = None
    email_label: str = "User"
    role_label: str = "guests"

    @property
    def is_key(self) -> bool:
        return self.kind == "key"

    @property
    def user_id(self) -> str:
        return self.user.id if self.user else ""


@dataclass
class Call:
    standin: AppwriteStandin
    method: str
    path: str  # API path without /v1
    params: dict[str, str]  # path parameters
    query: dict[str, Any]
    body: dict[str, Any]
    headers: dict[str, str]  # lower-case names
    caller: Caller
    client_ip: str = "127.0.0.1"

    def arg(self, name: str, default: Any = None) -> Any:
        """A parameter from the body (or the query string of a GET), like Utopia's getParam."""
        if name in self.body:
            return self.body[name]
        return self.query.get(name, default)

    def required(self, name: str) -> Any:
        value = self.arg(name)
        if value is None:
            raise ApiError("general_argument_invalid", f'Param "{name}" is not optional.')
        return value


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or None for no content
    headers: dict[str, str] = field(default_factory=dict)
    schema_checked: bool = True

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    scopes: tuple[str, ...]
    handler: Handler
    pattern: re.Pattern[str]
    needs_project: bool = True
    locked: bool = True  # run holding the state lock (not executions: the function may call back)


ROUTES: list[Route] = []


def route(
    method: str, template: str, *scopes: str, needs_project: bool = True, locked: bool = True
) -> Callable[[Handler], Handler]:
    regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, template, scopes, handler, re.compile(regex), needs_project, locked))
        ROUTES.sort(key=lambda r: r.template.count("{"))
        return handler

    return register


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        if candidate.method == method:
            found = candidate.pattern.match(path)
            if found:
                return candidate, {k: _unquote(v) for k, v in found.groupdict().items()}
    return None


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)

"""The stand-in's state: one Appwrite project in memory (dicts guarded by one lock), which outlives the HTTP listener
so that a "server restart" keeps it. Also the clock, ids, times and the permission model (roles)."""

from __future__ import annotations

import base64
import functools
import json
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Clock = Callable[[], datetime]

APP_VERSION = "1.9.3"  # the spec the stand-in mirrors
SESSION_DURATION = 31536000  # TOKEN_EXPIRATION_LOGIN_LONG: a year
LIST_DEFAULT_LIMIT = 25  # APP_LIMIT_LIST_DEFAULT
COUNT_LIMIT = 5000  # APP_LIMIT_COUNT: list totals are capped here
TRANSACTION_MAX_OPERATIONS = 100  # APP_LIMIT_DATABASE_TRANSACTION
TRANSACTION_TTL = (60, 3600, 300)  # APP_DATABASE_TXN_TTL_MIN, _MAX, _DEFAULT
SESSION_RATE_LIMIT = (10, 3600)  # POST /account/sessions/email: abuse-limit 10, abuse-time 3600, key url+email

# Scopes of an authenticated user and of a guest (app/config/roles.php), and the scopes every API key has.
USER_SCOPES = frozenset(
    [
        "global",
        "public",
        "home",
        "console",
        "graphql",
        "sessions.write",
        "account",
        "teams.read",
        "teams.write",
        "presences.read",
        "presences.write",
        "documents.read",
        "documents.write",
        "rows.read",
        "rows.write",
        "embeddings.write",
        "files.read",
        "files.write",
        "projects.read",
        "locale.read",
        "avatars.read",
        "executions.read",
        "executions.write",
        "targets.read",
        "targets.write",
        "subscribers.write",
        "subscribers.read",
        "assistant.read",
        "rules.read",
    ]
)
GUEST_SCOPES = frozenset(
    [
        "global",
        "public",
        "home",
        "console",
        "graphql",
        "sessions.write",
        "documents.read",
        "documents.write",
        "rows.read",
        "rows.write",
        "embeddings.write",
        "files.read",
        "files.write",
        "locale.read",
        "avatars.read",
        "executions.write",
    ]
)
KEY_BASE_SCOPES = frozenset({"global", "health.read", "graphql"})
# What a test key gets by default: everything the stand-in serves.
ALL_KEY_SCOPES = [
    "users.read",
    "users.write",
    "teams.read",
    "teams.write",
    "databases.read",
    "databases.write",
    "tables.read",
    "tables.write",
    "collections.read",
    "collections.write",
    "rows.read",
    "rows.write",
    "documents.read",
    "documents.write",
    "functions.read",
    "functions.write",
    "executions.read",
    "executions.write",
    "sessions.write",
]


class ManualClock:
    """A clock tests move by hand (the stand-in's time, not the machine's)."""

    def __init__(self, start: datetime | str = "2026-01-05T09:00:00.000+00:00") -> None:
        self.now = parse_time(start) if isinstance(start, str) else start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0.0, *, milliseconds: float = 0.0) -> datetime:
        self.now += timedelta(seconds=seconds, milliseconds=milliseconds)
        return self.now

    def set(self, moment: datetime | str) -> None:
        self.now = parse_time(moment) if isinstance(moment, str) else moment.astimezone(UTC)


def system_clock() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """Appwrite's ISO 8601 form: milliseconds and +00:00 (DateTime::formatTz)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def truncate_ms(moment: datetime) -> datetime:
    """What the database keeps of a time: milliseconds (DATETIME(3))."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@functools.lru_cache(maxsize=65536)  # every row's $updatedAt, for every page that orders or filters by it
def parse_time(text: str) -> datetime:
    """An ISO 8601 date or date-time; naive ones are UTC (as Appwrite's DateTime does)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def unique_id() -> str:
    """Like ID.unique(): hex seconds and microseconds, then random padding (20 chars)."""
    now = datetime.now(UTC)
    return f"{int(now.timestamp()):08x}{now.microsecond:05x}{secrets.token_hex(4)[:7]}"


def valid_custom_id(value: str) -> bool:
    """CustomId: ≤ 36 chars of a-z A-Z 0-9 . - _, not starting with a special char."""
    if not value or len(value) > 36 or not (value[0].isascii() and value[0].isalnum()):
        return False
    return all(c.isascii() and (c.isalnum() or c in "._-") for c in value)


def encode_session_secret(user_id: str, secret: str) -> str:
    """The session cookie value (utopia-php/auth Store::encode: base64 of JSON {id, secret})."""
    return base64.b64encode(json.dumps({"id": user_id, "secret": secret}).encode()).decode()


def decode_session_secret(value: str) -> tuple[str, str] | None:
    try:
        data = json.loads(base64.b64decode(value, validate=True))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not isinstance(data.get("secret"), str):
        return None
    return data["id"], data["secret"]


# ---------------------------------------------------------------------------------------------------------------
# Permissions: strings like read("team:abc/admin"); roles are what a caller is (any, users, user:<id>, team:<id>...).

PERMISSION_TYPES = ("read", "create", "update", "delete", "write")


def parse_permission(text: str) -> tuple[str, str] | None:
    """('read', 'team:abc/admin') from 'read("team:abc/admin")'; None when malformed."""
    if not text.endswith('")') or '("' not in text:
        return None
    kind, role = text[:-2].split('("', 1)
    if kind not in PERMISSION_TYPES or not role:
        return None
    return kind, role


def aggregate_permissions(permissions: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """Permission::aggregate: write("x") becomes the allowed ones of create/update/delete; duplicates dropped."""
    allowed = tuple(allowed)
    result: list[str] = []
    for text in permissions:
        parsed = parse_permission(text)
        if parsed is None:
            continue
        kind, role = parsed
        kinds = [k for k in ("create", "update", "delete") if k in allowed] if kind == "write" else [kind]
        for k in kinds:
            item = f'{k}("{role}")'
            if item not in result:
                result.append(item)
    return result


def roles_of_permissions(permissions: Iterable[str], kind: str) -> set[str]:
    out: set[str] = set()
    for text in permissions:
        parsed = parse_permission(text)
        if parsed and parsed[0] == kind:
            out.add(parsed[1])
    return out


@dataclass
class User:
    id: str
    email: str
    password: str | None
    name: str
    created_at: str
    updated_at: str
    sequence: int
    labels: list[str] = field(default_factory=list)
    prefs: dict[str, Any] = field(default_factory=dict)
    status: bool = True
    phone: str = ""
    email_verification: bool = False
    password_update: str = ""
    accessed_at: str = ""


@dataclass
class Session:
    id: str
    user_id: str
    secret: str  # the raw secret inside the encoded cookie value
    created_at: datetime
    expire: datetime
    provider_uid: str
    ip: str = "127.0.0.1"
    revoked: bool = False


@dataclass
class ApiKey:
    secret: str  # the whole header value, e.g. standard_ab12…
    name: str
    scopes: frozenset[str]
    expire: datetime | None = None
    dynamic: bool = False  # the key Appwrite hands one function execution
    revoked: bool = False


@dataclass
class Team:
    id: str
    name: str
    created_at: str
    updated_at: str
    prefs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Membership:
    id: str
    team_id: str
    user_id: str
    roles: list[str]
    created_at: str
    updated_at: str
    invited: str
    joined: str
    confirm: bool


@dataclass
class Column:
    key: str
    type: str  # model type: string, varchar, text, mediumtext, longtext, integer, double, boolean, datetime
    required: bool
    array: bool
    created_at: str
    updated_at: str
    size: int | None = None
    format: str = ""  # enum, email, url, ip, datetime, intRange, floatRange
    elements: list[str] | None = None
    min: float | None = None
    max: float | None = None
    default: Any = None
    encrypt: bool | None = None
    status: str = "available"


@dataclass
class Index:
    key: str
    type: str  # key, unique, fulltext
    columns: list[str]
    orders: list[str]
    lengths: list[int]
    created_at: str
    updated_at: str
    status: str = "available"
    error: str = ""


@dataclass
class Row:
    id: str
    sequence: int
    created_at: str
    updated_at: str
    permissions: list[str]
    data: dict[str, Any]


@dataclass
class Table:
    id: str
    database_id: str
    name: str
    permissions: list[str]
    row_security: bool
    enabled: bool
    created_at: str
    updated_at: str
    columns: dict[str, Column] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    next_sequence: int = 1


@dataclass
class Database:
    id: str
    name: str
    enabled: bool
    created_at: str
    updated_at: str
    tables: dict[str, Table] = field(default_factory=dict)


@dataclass
class StagedOperation:
    action: str
    database_id: str
    table_id: str
    row_id: str | None
    data: dict[str, Any]
    staged_at: datetime  # the operation's $createdAt: commit is a conflict if the row changed after it


@dataclass
class Transaction:
    id: str
    created_at: str
    updated_at: str
    expires_at: datetime
    status: str  # pending, committing, committed, failed
    permissions: list[str]
    operations: list[StagedOperation] = field(default_factory=list)


@dataclass
class Function:
    id: str
    name: str
    runtime: str
    execute: list[str]
    scopes: list[str]
    entrypoint_file: str | None  # absolute path of the code (None: a function with no code; executions fail)
    root: str | None  # the function's folder (on sys.path for its own imports)
    variables: dict[str, str] = field(default_factory=dict)
    timeout: int = 15
    enabled: bool = True
    logging: bool = True
    events: list[str] = field(default_factory=list)
    schedule: str = ""
    entrypoint: str = ""
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Execution:
    id: str
    function_id: str
    created_at: str
    updated_at: str
    permissions: list[str]
    trigger: str
    status: str
    request_method: str
    request_path: str
    request_headers: list[dict[str, str]]
    response_status_code: int = 0
    response_body: str = ""
    response_headers: list[dict[str, str]] = field(default_factory=list)
    logs: str = ""
    errors: str = ""
    duration: float = 0.0


@dataclass
class State:
    """Everything the stand-in knows. Hold ``lock`` while reading or writing it."""

    project_id: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, User] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    jwts: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)  # jwt → (userId, sessionId, expiry)
    teams: dict[str, Team] = field(default_factory=dict)
    memberships: dict[str, Membership] = field(default_factory=dict)
    databases: dict[str, Database] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    executions: dict[str, Execution] = field(default_factory=dict)
    rate_limit_hits: dict[str, tuple[int, int]] = field(default_factory=dict)  # key → (window start, count)
    next_user_sequence: int = 1

    def user_roles(self, user: User) -> set[str]:
        """Authorization roles of a signed-in user (Appwrite's User::getRoles)."""
        roles = {"any", "users", f"user:{user.id}"}
        dimension = "verified" if user.email_verification else "unverified"
        roles |= {f"users/{dimension}", f"user:{user.id}/{dimension}"}
        for membership in self.memberships.values():
            if membership.user_id == user.id and membership.confirm:
                roles.add(f"team:{membership.team_id}")
                roles.add(f"member:{membership.id}")
                roles |= {f"team:{membership.team_id}/{role}" for role in membership.roles}
        roles |= {f"label:{label}" for label in user.labels}
        return roles


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_hex(nbytes)

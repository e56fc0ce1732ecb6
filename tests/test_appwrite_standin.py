"""The Appwrite stand-in (tests/fakes/appwrite), driven as the app and the backend functions will drive a real
project: through the official SDK 27 and httpx. Where the stand-in follows the real server or SDK 27 rather than
the 1.9.3 spec, a test here says so."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from appwrite.enums.order_by import OrderBy
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.account import Account
from appwrite.services.functions import Functions
from appwrite.services.tables_db import TablesDB
from appwrite.services.teams import Teams
from appwrite.services.users import Users

from tests.fakes.appwrite import SPEC_OVERRIDES, AppwriteStandin, ManualClock, events
from tests.fakes.appwrite import contract as spec
from tests.fakes.appwrite.plugin import StandinFactory
from tests.fakes.appwrite.routing import ROUTES

PROJECT_DIR = Path(__file__).parent / "fakes" / "appwrite_project"
CONFIG = PROJECT_DIR / "appwrite.config.json"
PASSWORD = "password-123"


@dataclass
class Env:
    server: AppwriteStandin
    key: str
    alice: str  # user ids
    bob: str
    alice_session: str
    bob_session: str

    def admin(self) -> TablesDB:
        return TablesDB(self.server.client(key=self.key))

    def as_user(self, session: str) -> TablesDB:
        return TablesDB(self.server.client(session=session))

    def http(self, **headers: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.endpoint + "/",
            headers={"X-Appwrite-Project": self.server.project_id, **headers},
            timeout=10,
        )


def make_env(factory: StandinFactory, **options: Any) -> Env:
    server = factory(**options)
    server.load_config(CONFIG)
    alice = server.create_user("alice@example.org", PASSWORD, name="Alice")
    bob = server.create_user("bob@example.org", PASSWORD, name="Bob")
    server.add_membership("clinic-a", alice, ["admin"])
    return Env(server, server.create_api_key(), alice, bob, server.create_session(alice), server.create_session(bob))


@pytest.fixture
def env(appwrite_server: StandinFactory) -> Env:
    return make_env(appwrite_server)


def value(item: Any) -> Any:
    """An SDK enum's value (the models type some strings as enums)."""
    return getattr(item, "value", item)


def error_of(call: Any) -> AppwriteException:
    with pytest.raises(AppwriteException) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------------------------------------------------------
# Health and account


def test_health_version_needs_no_project_nor_auth_and_is_not_in_the_server_spec(env: Env) -> None:
    response = httpx.get(env.server.endpoint + "/health/version")
    assert response.status_code == 200 and response.json() == {"version": "1.9.3"}
    assert spec.find_operation("GET", "/health/version") is None  # absent from the server spec: EXTRA_OPERATIONS
    assert ("GET", "/health/version") in spec.EXTRA_OPERATIONS


def test_email_session_secret_comes_in_x_fallback_cookies_and_authenticates(env: Env) -> None:
    with env.http() as http:
        response = http.post("account/sessions/email", json={"email": "Alice@Example.org", "password": PASSWORD})
        assert response.status_code == 201
        cookies = json.loads(response.headers["X-Fallback-Cookies"])
        secret = cookies[f"a_session_{env.server.project_id}"]
        assert response.json()["secret"] == ""  # sensitive: only API keys see it in the body
        assert response.json()["userId"] == env.alice and response.json()["current"] is True
        assert response.headers["X-RateLimit-Limit"] == "10"
        me = http.get("account", headers={"X-Appwrite-Session": secret})
        assert me.status_code == 200 and me.json()["email"] == "alice@example.org"
        assert http.delete("account/sessions/current", headers={"X-Appwrite-Session": secret}).status_code == 204
        after = http.get("account", headers={"X-Appwrite-Session": secret})
        assert after.status_code == 401
        assert after.json()["type"] == "general_unauthorized_scope"  # the revoked session is a guest now
        assert after.json()["code"] == 401 and after.json()["version"]


def test_session_through_the_sdk(env: Env) -> None:
    session = Account(env.server.client(key=env.key)).create_email_password_session("bob@example.org", PASSWORD)
    assert session.secret  # an API key (server-side rendering) gets the secret in the body
    user = Account(env.server.client(session=session.secret)).get()
    assert user.id == env.bob and user.name == "Bob"
    error = error_of(
        lambda: Account(env.server.client()).create_email_password_session("bob@example.org", "wrong-pass")
    )
    assert (error.code, error.type) == (401, "user_invalid_credentials")


def test_login_rate_limit_is_ten_an_hour_per_email_and_a_success_resets_it(appwrite_server: StandinFactory) -> None:
    clock = ManualClock()
    server = appwrite_server(rate_limits=True, clock=clock)
    server.create_user("carol@example.org", PASSWORD)
    with httpx.Client(base_url=server.endpoint + "/", headers={"X-Appwrite-Project": server.project_id}) as http:

        def attempt(email: str, password: str) -> httpx.Response:
            return http.post("account/sessions/email", json={"email": email, "password": password})

        for _ in range(9):
            assert attempt("carol@example.org", "bad-password").status_code == 401
        assert attempt("carol@example.org", PASSWORD).status_code == 201  # the 10th, a success: counter reset
        for _ in range(10):
            assert attempt("carol@example.org", "bad-password").status_code == 401
        limited = attempt("carol@example.org", PASSWORD)
        assert limited.status_code == 429 and limited.json()["type"] == "general_rate_limit_exceeded"
        assert limited.headers["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Reset" in limited.headers
        assert attempt("dave@example.org", "bad-password").status_code == 401  # per email
        clock.advance(3600)
        assert attempt("carol@example.org", PASSWORD).status_code == 201  # a new window


def test_expired_session_is_a_guest_who_sees_only_public_rows(env: Env) -> None:
    admin = env.admin()
    admin.create_row("main", "patients", "p1", {"name": "Ann"}, permissions=['read("any")'])
    admin.create_row("main", "patients", "p2", {"name": "Ben"}, permissions=[f'read("user:{env.alice}")'])
    alice = env.as_user(env.alice_session)
    assert alice.list_rows("main", "patients").total == 2
    env.server.expire_session(env.alice_session)
    error = error_of(lambda: Account(env.server.client(session=env.alice_session)).get())
    assert (error.code, error.type) == (401, "general_unauthorized_scope")
    # The trap for sync: reading with a dead session is not a 401; the list silently shrinks to public rows.
    assert [r.id for r in alice.list_rows("main", "patients").rows] == ["p1"]
    error = error_of(lambda: alice.create_row("main", "patients", "p3", {"name": "Cy"}))
    assert (error.code, error.type) == (401, "user_unauthorized")
    env.server.revoke_sessions(env.bob)
    assert error_of(lambda: Account(env.server.client(session=env.bob_session)).get()).code == 401


# ---------------------------------------------------------------------------------------------------------------
# Users and teams


def test_users_create_get_labels_prefs_and_scopes(env: Env) -> None:
    users = Users(env.server.client(key=env.key))
    user = users.create("dana", email="Dana@Example.org", password=PASSWORD, name="Dana")
    assert (user.id, user.email, user.name) == ("dana", "dana@example.org", "Dana")
    assert users.get("dana").email == "dana@example.org"
    assert users.update_labels("dana", ["pharmacist"]).labels == ["pharmacist"]
    assert users.update_prefs("dana", {"theme": "dark"}).to_dict() == {"theme": "dark"}
    assert error_of(lambda: users.create("dana2", email="dana@example.org", password=PASSWORD)).type == (
        "user_already_exists"
    )
    assert error_of(lambda: users.get("nobody")).type == "user_not_found"
    narrow = Users(env.server.client(key=env.server.create_api_key(["rows.read"])))
    error = error_of(lambda: narrow.get("dana"))
    assert (error.code, error.type) == (401, "general_unauthorized_scope")
    error = error_of(lambda: Users(env.server.client(session=env.alice_session)).get("dana"))
    assert (error.code, error.type) == (401, "general_unauthorized_scope")


def test_teams_and_memberships(env: Env) -> None:
    teams = Teams(env.server.client(key=env.key))
    team = teams.create("pharmacy-b", "Pharmacy B")
    assert (team.id, team.total) == ("pharmacy-b", 0)
    membership = teams.create_membership("pharmacy-b", ["pharmacist"], user_id=env.bob)
    assert membership.confirm is True and membership.roles == ["pharmacist"] and membership.userid == env.bob
    assert teams.list_memberships("pharmacy-b").total == 1
    assert {t.id for t in teams.list().teams} == {"clinic-a", "pharmacy-b"}
    as_bob = Teams(env.server.client(session=env.bob_session))
    assert [t.id for t in as_bob.list().teams] == ["pharmacy-b"]
    assert [m.userid for m in as_bob.list_memberships("pharmacy-b").memberships] == [env.bob]
    assert error_of(lambda: as_bob.list_memberships("clinic-a")).type == "team_not_found"


# ---------------------------------------------------------------------------------------------------------------
# TablesDB schema


def test_schema_databases_tables_columns_and_indexes(env: Env) -> None:
    admin = env.admin()
    assert admin.create("shop", "Shop").id == "shop"
    assert error_of(lambda: admin.create("shop", "Shop")).type == "database_already_exists"
    table = admin.create_table("shop", "items", "Items", permissions=['read("users")'], row_security=True)
    assert table.rowsecurity is True and table.permissions == ['read("users")']
    created = [
        admin.create_varchar_column("shop", "items", "name", 40, True),
        admin.create_text_column("shop", "items", "notes", False),
        admin.create_integer_column("shop", "items", "qty", False, min=0, max=99, default=1),
        admin.create_float_column("shop", "items", "price", False),
        admin.create_boolean_column("shop", "items", "active", False, default=True),
        admin.create_datetime_column("shop", "items", "seen", False),
        admin.create_enum_column("shop", "items", "size", ["s", "m", "l"], False, default="m"),
    ]
    assert all(value(c.status) == "processing" for c in created)  # created in the background, as Appwrite does
    columns = [c.to_dict() for c in admin.list_columns("shop", "items").columns]
    assert [c["key"] for c in columns] == ["name", "notes", "qty", "price", "active", "seen", "size"]
    assert all(c["status"] == "available" for c in columns)
    assert admin.get_column("shop", "items", "price").to_dict()["type"] == "double"
    assert error_of(lambda: admin.create_boolean_column("shop", "items", "active", False)).type == (
        "column_already_exists"
    )
    assert error_of(lambda: admin.create_integer_column("shop", "items", "n", True, default=3)).type == (
        "column_default_unsupported"
    )
    index = admin.create_index("shop", "items", "by_name", "unique", ["name"], orders=[OrderBy.ASC])
    assert index.key == "by_name" and index.columns == ["name"]
    assert value(admin.get_index("shop", "items", "by_name").status) == "available"
    assert error_of(lambda: admin.create_index("shop", "items", "bad", "key", ["nope"])).type == "column_unknown"
    assert [t.id for t in admin.list_tables("shop").tables] == ["items"]
    assert admin.get_table("shop", "items").columns[0].key == "name"
    assert error_of(lambda: admin.get_table("shop", "nope")).type == "table_not_found"


def test_config_loader_reads_the_cli_project_file(env: Env) -> None:
    server = env.server
    assert server.project_id == "standin-project"
    table = env.admin().get_table("main", "notes")
    keys = {c.key: c.to_dict() for c in table.columns}
    assert keys["kind"]["format"] == "enum" and keys["kind"]["elements"] == ["plain", "urgent"]
    assert keys["score"]["type"] == "double" and keys["due"]["type"] == "datetime"
    assert [i.key for i in table.indexes] == ["by_updated", "unique_text"]
    assert Functions(server.client(key=env.key)).get("echo").execute == ["users"]
    assert Teams(server.client(key=env.key)).get("clinic-a").name == "Clinic A"
    legacy = {
        "projectId": "legacy",
        "databases": [{"$id": "old", "name": "Old"}],
        "collections": [
            {
                "$id": "docs",
                "databaseId": "old",
                "name": "Docs",
                "documentSecurity": False,
                "attributes": [{"key": "title", "type": "string", "size": 10, "required": True}],
                "indexes": [{"key": "t", "type": "key", "attributes": ["title"]}],
            }
        ],
    }
    server.load_config(legacy)
    assert server.project_id == "legacy"
    docs = TablesDB(server.client(key=env.key)).get_table("old", "docs")
    assert docs.rowsecurity is False and docs.indexes[0].columns == ["title"]


# ---------------------------------------------------------------------------------------------------------------
# Rows


def test_row_crud_and_validation(env: Env) -> None:
    admin = env.admin()
    row = admin.create_row("main", "notes", "n1", {"text": "first", "count": 2, "score": 1})
    assert row.id == "n1" and row.sequence == "1" and row.tableid == "notes" and row.databaseid == "main"
    assert row.data == {
        "text": "first",
        "kind": "plain",
        "count": 2,
        "score": 1.0,
        "done": False,
        "due": None,
        "body": None,
    }
    assert row.createdat.endswith("+00:00") and len(row.createdat) == len("2026-01-05T09:00:00.000+00:00")
    assert admin.get_row("main", "notes", "n1").data["text"] == "first"
    updated = admin.update_row("main", "notes", "n1", {"count": 3})
    assert updated.data["count"] == 3 and updated.data["text"] == "first"
    assert admin.upsert_row("main", "notes", "n2", {"text": "second"}).data["kind"] == "plain"
    assert admin.upsert_row("main", "notes", "n2", {"text": "second!", "done": True}).data["done"] is True
    assert admin.list_rows("main", "notes").total == 2
    assert admin.delete_row("main", "notes", "n2") == b""
    assert error_of(lambda: admin.get_row("main", "notes", "n2")).type == "row_not_found"
    duplicate = error_of(lambda: admin.create_row("main", "notes", "n1", {"text": "again"}))
    assert (duplicate.code, duplicate.type) == (409, "row_already_exists")
    assert error_of(lambda: admin.create_row("main", "notes", "N1", {"text": "x"})).type == "row_already_exists"
    for data, message in [
        ({"text": "a", "colour": "red"}, 'Unknown attribute: "colour"'),
        ({"text": "a", "count": "2"}, 'Attribute "count" has invalid type'),
        ({"text": "a", "count": 5000}, "valid range between 0 and 1,000"),
        ({"text": "a", "kind": "loud"}, "must be one of (plain, urgent)"),
        ({"count": 1}, 'Missing required attribute "text"'),
        ({"text": "a", "due": "not a date"}, 'Attribute "due" has invalid'),
    ]:
        error = error_of(lambda data=data: admin.create_row("main", "notes", "bad", data))
        assert (error.code, error.type) == (400, "row_invalid_structure") and message in error.message, data
    unique = error_of(lambda: admin.create_row("main", "notes", "n3", {"text": "FIRST"}))
    assert (unique.code, unique.type) == (409, "row_unique_constraint_violation")  # *_ci collation
    assert error_of(lambda: admin.update_row("main", "notes", "zz", {"count": 1})).type == "row_not_found"


def test_update_honours_x_appwrite_timestamp_and_upsert_ignores_it(appwrite_server: StandinFactory) -> None:
    clock = ManualClock("2026-03-01T10:00:00.000+00:00")
    env = make_env(appwrite_server, clock=clock)
    admin = env.admin()
    seen = admin.create_row("main", "notes", "n1", {"text": "a"}).updatedat
    clock.advance(milliseconds=5)
    admin.update_row("main", "notes", "n1", {"count": 1})
    stale = env.server.client(key=env.key).add_header("X-Appwrite-Timestamp", seen)
    error = error_of(lambda: TablesDB(stale).update_row("main", "notes", "n1", {"count": 2}))
    assert (error.code, error.type) == (409, "row_update_conflict")
    assert error_of(lambda: TablesDB(stale).delete_row("main", "notes", "n1")).type == "row_update_conflict"
    assert TablesDB(stale).upsert_row("main", "notes", "n1", {"text": "a", "count": 9}).data["count"] == 9
    fresh = admin.get_row("main", "notes", "n1").updatedat
    current = env.server.client(key=env.key).add_header("X-Appwrite-Timestamp", fresh)
    assert TablesDB(current).update_row("main", "notes", "n1", {"count": 3}).data["count"] == 3


def test_updated_at_is_server_time_to_the_millisecond_and_not_strictly_increasing(
    appwrite_server: StandinFactory,
) -> None:
    clock = ManualClock("2026-03-01T10:00:00.000+00:00")
    env = make_env(appwrite_server, clock=clock)
    admin = env.admin()
    first = admin.create_row("main", "notes", "n1", {"text": "a"})
    assert first.createdat == first.updatedat == "2026-03-01T10:00:00.000+00:00"
    clock.advance(milliseconds=0.4)  # the same millisecond
    second = admin.update_row("main", "notes", "n1", {"count": 1})
    assert second.updatedat == first.updatedat  # as in Appwrite: a stale timestamp cannot see this change
    clock.advance(1)
    unchanged = admin.update_row("main", "notes", "n1", {"count": 1})
    assert unchanged.updatedat == first.updatedat  # nothing changed: $updatedAt stays


def test_queries(env: Env) -> None:
    admin = env.admin()
    for i in range(12):
        data: dict[str, Any] = {"text": f"note {i:02d}", "count": i}
        if i % 3 == 0:
            data["score"] = i / 2
        admin.create_row("main", "notes", f"r{i:02d}", data)

    def ids(*queries: str) -> list[str]:
        return [r.id for r in admin.list_rows("main", "notes", list(queries)).rows]

    assert ids(Query.equal("count", [1, 2])) == ["r01", "r02"]
    assert ids(Query.equal("text", "NOTE 03")) == ["r03"]  # case-insensitive, as MariaDB compares
    assert len(ids(Query.not_equal("score", 0))) == 3  # NULL scores never match
    assert ids(Query.less_than("count", 2)) == ["r00", "r01"]
    assert ids(Query.less_than_equal("count", 1), Query.order_desc("count")) == ["r01", "r00"]
    assert ids(Query.greater_than("count", 9)) == ["r10", "r11"]
    assert ids(Query.greater_than_equal("count", 11)) == ["r11"]
    assert len(ids(Query.is_null("score"))) == 8 and len(ids(Query.is_not_null("score"))) == 4
    assert ids(Query.between("count", 4, 5)) == ["r04", "r05"]
    assert ids(Query.starts_with("text", "note 1")) == ["r10", "r11"]
    assert ids(Query.limit(2), Query.offset(3)) == ["r03", "r04"]
    assert ids(Query.order_desc("score"), Query.limit(2)) == ["r09", "r06"]
    selected = admin.list_rows("main", "notes", [Query.select(["text"]), Query.limit(1)]).rows[0]
    assert selected.data == {"text": "note 00"} and selected.id == "r00"
    assert admin.list_rows("main", "notes", [Query.limit(1)]).total == 12
    assert admin.list_rows("main", "notes", [Query.limit(1)], total=False).total == 0
    pages, cursor = [], None
    while True:
        queries = [Query.order_asc("$updatedAt"), Query.limit(5)] + ([Query.cursor_after(cursor)] if cursor else [])
        page = ids(*queries)
        if not page:
            break
        pages.append(page)
        cursor = page[-1]
    assert [len(p) for p in pages] == [5, 5, 2] and [i for p in pages for i in p] == [f"r{i:02d}" for i in range(12)]
    assert ids(Query.cursor_before("r05"), Query.limit(2)) == ["r03", "r04"]
    admin.delete_row("main", "notes", "r04")
    error = error_of(lambda: ids(Query.cursor_after("r04")))
    assert (error.code, error.type) == (400, "general_cursor_not_found")
    error = error_of(lambda: ids(Query.equal("colour", "red")))
    assert (error.code, error.type) == (400, "general_query_invalid") and "not found in schema" in error.message
    assert error_of(lambda: ids('{"method":"fuzzy","attribute":"text","values":["x"]}')).type == (
        "general_query_invalid"
    )
    assert error_of(lambda: ids(Query.greater_than("$updatedAt", "yesterday"))).type == "general_query_invalid"


def test_total_is_capped_at_5000(env: Env) -> None:
    from tests.fakes.appwrite.rows import op_create

    with env.server.state.lock:
        table = env.server.state.databases["main"].tables["patients"]
        for i in range(5003):
            op_create(table, table.rows, f"bulk{i}", {"name": f"p{i}"}, [], env.server.stamp(), True)
    result = env.admin().list_rows("main", "patients", [Query.limit(1)])
    assert result.total == 5000 and len(result.rows) == 1


def test_row_and_table_permissions(env: Env) -> None:
    alice, bob = env.as_user(env.alice_session), env.as_user(env.bob_session)
    row = alice.create_row("main", "patients", "p1", {"name": "Ann"})
    assert sorted(row.permissions) == sorted(f'{k}("user:{env.alice}")' for k in ("read", "update", "delete"))
    alice.create_row("main", "patients", "p2", {"name": "Ben"}, permissions=['read("team:clinic-a")'])
    alice.create_row("main", "patients", "p3", {"name": "Cy"}, permissions=['read("team:clinic-a/admin")'])
    assert [r.id for r in alice.list_rows("main", "patients").rows] == ["p1", "p2", "p3"]
    assert bob.list_rows("main", "patients").total == 0
    assert error_of(lambda: bob.get_row("main", "patients", "p1")).type == "row_not_found"
    env.server.add_membership("clinic-a", env.bob, ["pharmacist"])
    assert [r.id for r in bob.list_rows("main", "patients").rows] == ["p2"]
    error = error_of(lambda: bob.update_row("main", "patients", "p2", {"name": "Bea"}))
    assert (error.code, error.type) == (401, "user_unauthorized")
    error = error_of(lambda: bob.create_row("main", "patients", "p4", {"name": "D"}, permissions=['read("team:x")']))
    assert error.type == "user_unauthorized" and "Permissions must be one of" in error.message
    create = error_of(lambda: bob.create_row("main", "patients", "p5", {"name": "E"}, ['create("any")']))
    assert (create.code, create.type) == (400, "general_argument_invalid")
    assert alice.update_row("main", "patients", "p1", {"nhs": "9434765919"}).data["nhs"] == "9434765919"
    assert env.admin().list_rows("main", "patients").total == 3  # an API key bypasses permissions
    error = error_of(lambda: TablesDB(env.server.client()).list_rows("main", "notes"))  # a guest, no table read
    assert (error.code, error.type) == (401, "user_unauthorized")


# ---------------------------------------------------------------------------------------------------------------
# Transactions


def test_transaction_commits_all_operations_at_once(env: Env) -> None:
    admin = env.admin()
    admin.create_row("main", "notes", "keep", {"text": "keep"})
    transaction = admin.create_transaction()
    assert value(transaction.status) == "pending" and transaction.operations == 0
    staged = admin.create_operations(
        transaction.id,
        [
            {"action": "create", "databaseId": "main", "tableId": "notes", "rowId": "t1", "data": {"text": "one"}},
            {"action": "update", "databaseId": "main", "tableId": "notes", "rowId": "t1", "data": {"count": 4}},
            {"action": "upsert", "databaseId": "main", "tableId": "notes", "rowId": "t2", "data": {"text": "two"}},
        ],
    )
    assert staged.operations == 3
    admin.update_row("main", "notes", "keep", {"count": 1}, transaction_id=transaction.id)
    admin.delete_row("main", "notes", "keep", transaction_id=transaction.id)
    assert admin.get_transaction(transaction.id).operations == 5
    assert [r.id for r in admin.list_rows("main", "notes").rows] == ["keep"]  # nothing applied yet
    preview = admin.list_rows("main", "notes", transaction_id=transaction.id)
    assert sorted(r.id for r in preview.rows) == ["t1", "t2"]
    committed = admin.update_transaction(transaction.id, commit=True)
    assert committed.status == "committed"
    rows = {r.id: r.data for r in admin.list_rows("main", "notes").rows}
    assert rows.keys() == {"t1", "t2"} and rows["t1"]["count"] == 4
    error = error_of(lambda: admin.update_transaction(transaction.id, commit=True))
    assert (error.code, error.type) == (400, "transaction_not_ready")


def test_transaction_conflict_when_a_row_changed_after_staging(appwrite_server: StandinFactory) -> None:
    clock = ManualClock()
    env = make_env(appwrite_server, clock=clock)
    admin = env.admin()
    admin.create_row("main", "notes", "n1", {"text": "a"})
    transaction = admin.create_transaction()
    clock.advance(milliseconds=10)
    admin.create_row("main", "notes", "n9", {"text": "new"}, transaction_id=transaction.id)
    admin.update_row("main", "notes", "n1", {"count": 1}, transaction_id=transaction.id)
    clock.advance(milliseconds=10)
    admin.update_row("main", "notes", "n1", {"count": 2})  # someone else writes the row
    error = error_of(lambda: admin.update_transaction(transaction.id, commit=True))
    assert (error.code, error.type) == (409, "transaction_conflict")
    assert admin.get_transaction(transaction.id).status == "failed"
    assert [r.id for r in admin.list_rows("main", "notes").rows] == ["n1"]  # all or nothing
    retry = admin.create_transaction()
    admin.create_row("main", "notes", "n1", {"text": "dup"}, transaction_id=retry.id)
    assert error_of(lambda: admin.update_transaction(retry.id, commit=True)).type == "transaction_conflict"


def test_transaction_limits_rollback_and_expiry(appwrite_server: StandinFactory) -> None:
    clock = ManualClock()
    env = make_env(appwrite_server, clock=clock)
    admin = env.admin()
    transaction = admin.create_transaction(ttl=60)
    operations = [
        {"action": "create", "databaseId": "main", "tableId": "notes", "rowId": f"x{i}", "data": {"text": f"{i}"}}
        for i in range(101)
    ]
    error = error_of(lambda: admin.create_operations(transaction.id, operations))
    assert (error.code, error.type) == (400, "transaction_limit_exceeded")
    admin.create_operations(transaction.id, operations[:100])
    rolled = admin.update_transaction(transaction.id, rollback=True)
    assert rolled.status == "failed" and admin.list_rows("main", "notes").total == 0
    missing = error_of(
        lambda: admin.create_operations(
            admin.create_transaction().id,
            [{"action": "update", "databaseId": "main", "tableId": "notes", "rowId": "ghost", "data": {"count": 1}}],
        )
    )
    assert (missing.code, missing.type) == (404, "document_not_found")  # Operations/Create.php's own type
    late = admin.create_transaction(ttl=60)
    clock.advance(61)
    error = error_of(lambda: admin.update_transaction(late.id, commit=True))
    assert (error.code, error.type) == (410, "transaction_expired")
    as_bob = env.as_user(env.bob_session)
    assert error_of(lambda: as_bob.get_transaction(late.id)).type == "transaction_not_found"


# ---------------------------------------------------------------------------------------------------------------
# Functions


def test_execution_runs_the_function_with_appwrite_headers_and_variables(env: Env) -> None:
    functions = Functions(env.server.client(session=env.alice_session))
    execution = functions.create_execution(
        "echo",
        body='{"a":1}',
        path="/hello?x=1",
        method="PUT",
        headers={"content-type": "application/json", "X-Custom": "yes"},
    )
    assert value(execution.status) == "completed" and execution.responsestatuscode == 200
    echoed = json.loads(execution.responsebody)
    assert (echoed["method"], echoed["path"], echoed["query"], echoed["body"]) == (
        "PUT",
        "/hello",
        {"x": "1"},
        '{"a":1}',
    )
    headers = echoed["headers"]
    assert headers["x-appwrite-trigger"] == "http" and headers["x-appwrite-user-id"] == env.alice
    assert headers["x-appwrite-user-jwt"] and headers["x-appwrite-key"].startswith("ephemeral_")
    assert headers["x-custom"] == "yes" and headers["x-appwrite-execution-id"] == execution.id
    assert echoed["env"]["APPWRITE_FUNCTION_API_ENDPOINT"] == env.server.endpoint
    assert echoed["env"]["APPWRITE_FUNCTION_PROJECT_ID"] == env.server.project_id
    assert echoed["env"]["APPWRITE_FUNCTION_ID"] == "echo" and echoed["env"]["ECHO_GREETING"] == "hello"
    assert "echo PUT /hello" in execution.logs and execution.errors == ""
    assert {"name": "x-echo", "value": "yes"} in [h.to_dict() for h in execution.responseheaders]
    assert execution.to_dict()["functionId"] == "echo" and execution.resourceid == "echo"
    assert value(functions.get_execution("echo", execution.id).status) == "completed"
    env.server.set_function_variables("echo", {"ECHO_GREETING": "hi"})
    again = json.loads(functions.create_execution("echo").responsebody)
    assert again["env"]["ECHO_GREETING"] == "hi"


def test_execution_failures_and_permissions(appwrite_server: StandinFactory) -> None:
    env = make_env(appwrite_server, sync_timeout=0.5)
    functions = Functions(env.server.client(session=env.alice_session))
    raised = functions.create_execution("echo", path="/?action=raise")
    assert (value(raised.status), raised.responsestatuscode) == ("failed", 500) and "asked to fail" in raised.errors
    silent = functions.create_execution("echo", path="/?action=none")
    assert value(silent.status) == "failed" and "Return statement missing" in silent.errors
    assert value(functions.create_execution("echo", path="/?status=404").status) == "completed"  # < 500
    error = error_of(lambda: functions.create_execution("echo", path="/?action=sleep&seconds=2"))
    assert (error.code, error.type) == (408, "function_synchronous_timeout")
    guest = error_of(lambda: Functions(env.server.client()).create_execution("echo"))
    assert (guest.code, guest.type) == (401, "user_unauthorized")
    bad = error_of(lambda: functions.create_execution("echo", headers={"x-appwrite-user-id": "spoof"}))
    assert (bad.code, bad.type) == (400, "general_argument_invalid")
    assert error_of(lambda: functions.create_execution("nope")).type == "function_not_found"


def test_async_execution_and_the_dynamic_key(env: Env) -> None:
    functions = Functions(env.server.client(session=env.alice_session))
    execution = functions.create_execution(
        "echo", body=json.dumps({"id": "w1", "text": "from function"}), path="/?action=write", xasync=True
    )
    assert value(execution.status) == "waiting"
    deadline = time.monotonic() + 5
    while value(functions.get_execution("echo", execution.id).status) not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    done = functions.get_execution("echo", execution.id)
    assert (value(done.status), done.responsestatuscode, json.loads(done.responsebody)) == (
        "completed",
        201,
        {"created": "w1"},
    )
    assert env.admin().get_row("main", "notes", "w1").data["text"] == "from function"
    key = functions.create_execution("echo", path="/?action=key").responsebody
    error = error_of(lambda: Users(env.server.client(key=key)).get(env.alice))  # over after its execution
    assert (error.code, error.type) == (401, "project_key_expired")
    env.server.revoke_dynamic_keys = False
    live = functions.create_execution("echo", path="/?action=key").responsebody
    error = error_of(lambda: Users(env.server.client(key=live)).get(env.alice))  # only the function's scopes
    assert (error.code, error.type) == (401, "general_unauthorized_scope")


def test_function_domain_passes_the_raw_body(env: Env) -> None:
    raw = b'{"id": "evt_1",  "type":"payment_intent.succeeded"}\n'
    response = httpx.post(
        env.server.function_url("webhook", "/stripe?mode=test"),
        content=raw,
        headers={"Stripe-Signature": "t=1,v1=abc", "Content-Type": "application/json"},
    )
    assert response.status_code == 200 and response.headers["x-echo"] == "yes"
    echoed = response.json()
    assert echoed["sha256"] == __import__("hashlib").sha256(raw).hexdigest()
    assert (echoed["path"], echoed["query"]) == ("/stripe", {"mode": "test"})
    assert echoed["headers"]["stripe-signature"] == "t=1,v1=abc" and echoed["headers"]["x-appwrite-user-id"] == ""
    assert response.headers["x-appwrite-execution-id"]
    denied = httpx.post(env.server.function_url("echo"), content=b"{}")
    assert denied.status_code == 401 and denied.json()["type"] == "function_execute_permission_missing"


@pytest.mark.parametrize(
    ("subscription", "matched"),
    [
        ("databases.main.tables.notes.rows.n1.update", True),
        ("databases.main.tables.notes.rows.*.update", True),
        ("databases.*.tables.*.rows.*.update", True),
        ("databases.main.tables.notes.rows.*", True),  # any action
        ("databases.main.tables.notes", True),  # a parent
        ("databases.main", True),
        ("databases.main.tables.notes.rows.*.create", False),
        ("databases.main.tables.other.rows.*.update", False),
        ("databases.main.tables.notes.rows.*.*", False),  # an action is never a wildcard
        ("databases.main.collections.notes.documents.*.update", False),  # legacy names are not raised
    ],
)
def test_event_names_match_as_appwrite_generates_them(subscription: str, matched: bool) -> None:
    assert events.subscribed([subscription], "databases.main.tables.notes.rows.n1.update") is matched


def test_event_matching_agrees_with_every_generated_name() -> None:
    """``subscribed`` matches without making the names: it must answer as ``generated`` would, for every name
    made from the event's parts, wildcards, other ids and other actions."""
    event = "databases.main.tables.notes.rows.n1.update"
    parts = [("databases", ["main", "*", "other"]), ("tables", ["notes", "*", "other"]), ("rows", ["n1", "*", "n2"])]
    candidates = set()
    for depth in range(1, 4):
        prefixes = [""]
        for kind, ids in parts[:depth]:
            prefixes = [f"{p}{kind}.{i}." for p in prefixes for i in ids]
        for prefix in prefixes:
            candidates |= {prefix[:-1], prefix + "update", prefix + "create", prefix + "*"}
    names = events.generated(event)
    for candidate in sorted(candidates):
        assert events.subscribed([candidate], event) is (candidate in names), candidate


def test_row_writes_run_the_functions_subscribed_to_their_events(env: Env) -> None:
    server = env.server
    server.state.functions["echo"].events = [
        "databases.main.tables.notes.rows.*.create",
        "databases.*.tables.notes.rows.*.update",
    ]
    admin = env.admin()
    admin.create_row("main", "notes", "e1", {"text": "first"})
    admin.update_row("main", "notes", "e1", {"count": 2})
    admin.delete_row("main", "notes", "e1")  # no function listens to deletes
    server.wait_for_executions()
    created, updated = server.executions("echo", trigger="event")
    assert server.executions("echo", trigger="http") == []
    first, second = json.loads(created.response_body), json.loads(updated.response_body)
    assert first["headers"]["x-appwrite-trigger"] == "event" and first["method"] == "POST" and first["path"] == "/"
    assert first["headers"]["x-appwrite-event"] == "databases.main.tables.notes.rows.e1.create"
    assert second["headers"]["x-appwrite-event"] == "databases.main.tables.notes.rows.e1.update"
    assert first["headers"]["x-appwrite-key"].startswith("ephemeral_")  # a dynamic key, as for any run
    assert json.loads(first["body"])["text"] == "first" and json.loads(second["body"])["count"] == 2
    assert json.loads(second["body"])["$id"] == "e1" and json.loads(second["body"])["$tableId"] == "notes"
    sdk = Functions(server.client(key=env.key)).get_execution("echo", updated.id)
    assert value(sdk.trigger) == "event" and value(sdk.status) == "completed"


def test_rows_written_in_a_transaction_raise_their_events_at_commit(env: Env) -> None:
    server = env.server
    server.state.functions["echo"].events = ["databases.main.tables.notes.rows.*"]
    admin = env.admin()
    dropped = admin.create_transaction()
    admin.create_row("main", "notes", "t0", {"text": "never"}, transaction_id=dropped.id)
    admin.update_transaction(dropped.id, rollback=True)
    tx = admin.create_transaction()
    admin.create_row("main", "notes", "t1", {"text": "one"}, transaction_id=tx.id)
    admin.update_row("main", "notes", "t1", {"count": 5}, transaction_id=tx.id)
    server.wait_for_executions()
    assert server.executions("echo") == []  # staged, not written: nothing to react to yet
    admin.update_transaction(tx.id, commit=True)
    server.wait_for_executions()
    runs = [json.loads(e.response_body) for e in server.executions("echo", trigger="event")]
    assert [r["headers"]["x-appwrite-event"].rsplit(".", 1)[1] for r in runs] == ["create", "update"]
    assert [json.loads(r["body"])["count"] for r in runs] == [None, 5]  # each as its operation left it


def test_a_scheduled_run_and_waiting_for_executions(appwrite_server: StandinFactory) -> None:
    env = make_env(appwrite_server)
    scheduled = env.server.run_schedule("echo")
    assert scheduled.trigger == "schedule" and scheduled.status == "completed"
    assert json.loads(scheduled.response_body)["headers"]["x-appwrite-trigger"] == "schedule"
    env.server.state.functions["echo"].events = ["databases.main.tables.notes.rows.*.create"]
    env.admin().create_row("main", "notes", "later", {"text": "x"})  # answered before its event's run ends
    env.server.wait_for_executions(timeout=10)
    assert [e.status for e in env.server.executions("echo", trigger="event")] == ["completed"]


# ---------------------------------------------------------------------------------------------------------------
# Faults, restarts, the request log


def test_drop_before_and_after_handling(env: Env) -> None:
    admin = env.admin()
    env.server.drop_before("POST", r"/v1/tablesdb/main/tables/notes/rows")
    error = error_of(lambda: admin.create_row("main", "notes", "d1", {"text": "a"}))
    assert error.code == 0 and error.type is None  # the SDK's network failure
    assert admin.list_rows("main", "notes").total == 0  # never handled
    env.server.drop_after("POST", r"/v1/tablesdb/main/tables/notes/rows")
    assert error_of(lambda: admin.create_row("main", "notes", "d2", {"text": "b"})).code == 0
    assert [r.id for r in admin.list_rows("main", "notes").rows] == ["d2"]  # committed, answer lost
    status, _, body = env.server.replay_last("POST", r"/v1/tablesdb/.*/rows")  # duplicate delivery
    assert status == 409 and json.loads(body)["type"] == "row_already_exists"
    logged = env.server.requests_matching("POST", r"/v1/tablesdb/.*/rows")
    assert [(r.fault, r.status, r.handled) for r in logged] == [
        ("drop_before", None, False),
        ("drop_after", None, True),
        (None, 409, True),
    ]
    assert logged[1].json["rowId"] == "d2"


def test_injected_statuses_and_delays(env: Env) -> None:
    admin = env.admin()
    env.server.fail("GET", r"/v1/tablesdb/.*/rows", 503, times=2)
    for _ in range(2):
        error = error_of(lambda: admin.list_rows("main", "notes"))
        assert (error.code, error.type) == (503, "general_server_error")
    assert admin.list_rows("main", "notes").total == 0  # the third goes through
    env.server.fail(None, r"/v1/tablesdb/.*", 429, retry_after="7")
    with env.http(**{"X-Appwrite-Key": env.key}) as http:
        limited = http.get("tablesdb/main/tables/notes/rows")
        assert limited.status_code == 429 and limited.json()["type"] == "general_rate_limit_exceeded"
        assert limited.headers["Retry-After"] == "7" and limited.headers["X-RateLimit-Remaining"] == "0"
        env.server.fail("PATCH", ".*", 409, error_type="row_update_conflict")
        conflict = http.patch("tablesdb/main/tables/notes/rows/x", json={"data": {"count": 1}})
        assert (conflict.status_code, conflict.json()["type"]) == (409, "row_update_conflict")
        env.server.fail("GET", r"/v1/account", 401)
        assert http.get("account").json()["type"] == "user_unauthorized"
        env.server.delay("GET", r"/v1/tablesdb/.*", 0.5)
        with pytest.raises(httpx.ReadTimeout):
            http.get("tablesdb/main/tables/notes/rows", timeout=0.1)
    env.server.fail("GET", ".*", 500)
    assert error_of(lambda: admin.get_row("main", "notes", "x")).type == "general_server_error"


def test_restart_keeps_state_and_port(env: Env) -> None:
    admin = env.admin()
    admin.create_row("main", "notes", "n1", {"text": "a"})
    port = env.server.port
    env.server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert error_of(lambda: admin.get_row("main", "notes", "n1")).code == 0
    env.server.start()
    assert env.server.port == port and admin.get_row("main", "notes", "n1").data["text"] == "a"
    assert Account(env.server.client(session=env.alice_session)).get().id == env.alice


# ---------------------------------------------------------------------------------------------------------------
# The contract itself


def test_contract_validation_catches_a_wrong_body(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    assert spec.validate_against("row", {"$id": "x"})  # missing system attributes
    assert spec.validate_against("execution", {"$id": 3}) != []
    import tests.fakes.appwrite.rows as rows_module

    original = rows_module.row_model  # type: ignore[attr-defined]
    monkeypatch.setattr(
        rows_module, "row_model", lambda t, r, s=None: {k: v for k, v in original(t, r, s).items() if k != "$sequence"}
    )
    env.admin().create_row("main", "notes", "n1", {"text": "a"})
    with env.http(**{"X-Appwrite-Key": env.key}) as http:
        http.post("tablesdb/main/tables/notes/rows", json={"rowId": "n2", "data": {"text": "b"}, "colour": 1})
        http.get("tablesdb/main/tables/notes/rows", params={"bogus": "1"})
    found = [str(v) for v in env.server.contract.take()]
    assert any("'$sequence' is a required property" in v for v in found)
    assert any("unknown body parameter 'colour'" in v for v in found)
    assert any("unknown query parameter 'bogus'" in v for v in found)
    assert not env.server.violations


def test_where_the_stand_in_follows_the_real_server_or_sdk_rather_than_the_spec() -> None:
    schemas = spec.load_spec()["components"]["schemas"]
    # Errors: the spec says code is a string; Appwrite sends the status as an integer.
    assert schemas["error"]["properties"]["code"]["type"] == "string" and "error.code" in SPEC_OVERRIDES
    operation = spec.find_operation("PUT", "/tablesdb/db/tables/t/rows/r")
    assert operation is not None and list(operation.spec["responses"]) == ["201"]  # the route answers 200
    execution = spec.find_operation("POST", "/functions/f/executions")
    assert execution is not None and list(execution.spec["responses"]["201"]["content"]) == ["multipart/form-data"]
    # ... while SDK 27 asks for JSON (accept: application/json), which the server honours.
    assert "resourceId" not in schemas["execution"]["properties"]  # SDK 27's Execution wants resourceId/Type
    sdk = {(verb, path) for _, verb, path in spec.sdk_endpoints()}
    served = {(r.method, r.template) for r in ROUTES}
    for method, template in served - {("GET", "/health/version")}:
        assert (method, template) in sdk, (method, template)  # every served endpoint is an SDK 27 method
        assert spec.find_operation(method, template.replace("{", "").replace("}", "")) is not None


def test_every_response_of_this_module_was_checked_against_the_spec(appwrite_server: StandinFactory) -> None:
    server = appwrite_server()
    with httpx.Client(base_url=server.endpoint + "/") as http:
        missing_project = http.get("account")
    assert missing_project.status_code == 404 and missing_project.json()["type"] == "project_not_found"
    assert [str(v) for v in server.contract.take()] == ["request GET /account: X-Appwrite-Project header missing"]

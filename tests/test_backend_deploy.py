"""``rxdesk backend deploy`` sets up an empty Appwrite project from backend/appwrite.config.json, and again later
creates only what is missing; it is driven against the stand-in through the official SDK."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from appwrite.services.tables_db import TablesDB

from desktop.cli import main
from sync.deploy import DeployError, deploy_schema
from sync.server_config import CONFIG_PATH, DATABASE_ID
from tests.fakes.appwrite import AppwriteStandin


@pytest.fixture
def empty_project(appwrite_server: Callable[..., AppwriteStandin]) -> AppwriteStandin:
    return appwrite_server(load_backend=False)


def test_an_empty_project_gets_every_table_column_and_index(empty_project: AppwriteStandin) -> None:
    key = empty_project.create_api_key()
    created: list[str] = []
    total = deploy_schema(empty_project.endpoint, empty_project.project_id, key, report=created.append)
    config = json.loads(CONFIG_PATH.read_text())
    tables = TablesDB(empty_project.client(key=key))
    for table in config["tables"]:
        deployed = tables.get_table(DATABASE_ID, table["$id"])
        assert deployed.rowsecurity is True and deployed.permissions == []
        columns = {
            c.key if hasattr(c, "key") else c["key"] for c in tables.list_columns(DATABASE_ID, table["$id"]).columns
        }
        assert columns == {c["key"] for c in table["columns"]}, table["$id"]
        indexes = {i.key: i.columns for i in tables.list_indexes(DATABASE_ID, table["$id"]).indexes}
        assert indexes == {i["key"]: i["columns"] for i in table["indexes"]}, table["$id"]
    assert total == len(created) == 1 + sum(1 + len(t["columns"]) + len(t["indexes"]) for t in config["tables"])
    # Run again: nothing is missing, nothing is created.
    assert deploy_schema(empty_project.endpoint, empty_project.project_id, key, report=created.append) == 0


def test_a_key_without_the_right_scopes_is_one_clear_error(empty_project: AppwriteStandin) -> None:
    key = empty_project.create_api_key(scopes=["rows.read"])
    with pytest.raises(DeployError, match="could not be set up: The server answered 401"):
        deploy_schema(empty_project.endpoint, empty_project.project_id, key)


def test_the_command_takes_the_key_from_the_environment_and_never_prints_it(
    empty_project: AppwriteStandin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = empty_project.create_api_key()
    monkeypatch.setenv("APPWRITE_API_KEY", key)
    assert main(["backend", "deploy", "--endpoint", empty_project.endpoint, "--project", empty_project.project_id]) == 0
    out = capsys.readouterr()
    assert "table prescription" in out.out and "appwrite push functions" in out.out
    assert key not in out.out + out.err

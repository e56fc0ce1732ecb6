"""How sync talks to Appwrite: the health check, pushing a batch through ``sync-push``, listing a table's rows,
and asking the gateway for its summary. Every call has timeouts; every failure is an ``AppwriteException``
(``code`` 0 for the network), sorted by ``sync.appwrite_api.classify``."""

from __future__ import annotations

import json
from typing import Any

import httpx
from appwrite.enums.execution_method import ExecutionMethod
from appwrite.exception import AppwriteException
from appwrite.services.account import Account
from appwrite.services.functions import Functions
from appwrite.services.tables_db import TablesDB

from sync.appwrite_api import CONNECT_TIMEOUT_S, session_client
from sync.connection import ServerSettings
from sync.push import PushAnswer
from sync.tables import SYNC_TABLES

SYNC_PUSH = "sync-push"
HEALTH_TIMEOUT_S = 5.0


class Transport:
    def __init__(self, settings: ServerSettings, session: str, device: str) -> None:
        self.settings = settings
        self.device = device
        client = session_client(settings.endpoint, settings.project, session)
        self.functions = Functions(client)
        self.tables = TablesDB(client)
        self.account = Account(client)

    def online(self) -> bool:
        """The server answers ``GET /v1/health/version`` (no session needed)."""
        try:
            response = httpx.get(
                f"{self.settings.endpoint}/health/version",
                headers={"X-Appwrite-Project": self.settings.project},
                timeout=httpx.Timeout(HEALTH_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def check_session(self) -> None:
        """Raise (401) unless the session is alive: with a dead one Appwrite reads as a guest instead of refusing,
        and a pull would see no rows rather than fail."""
        self.account.get()

    def _execute(self, body: dict[str, Any]) -> dict[str, Any]:
        execution = self.functions.create_execution(
            SYNC_PUSH, body=json.dumps(body), xasync=False, path="/", method=ExecutionMethod.POST
        )
        status = int(execution.responsestatuscode or 0)
        if getattr(execution.status, "value", execution.status) != "completed" and status < 400:
            raise AppwriteException("the sync function failed on the server", 500, "execution_failed")
        try:
            answer = json.loads(execution.responsebody or "{}")
        except ValueError as exc:
            raise AppwriteException("the sync function gave no readable answer", 502, "execution_failed") from exc
        if status >= 400:
            message = answer.get("message") if isinstance(answer, dict) else None
            raise AppwriteException(str(message or "the sync function refused the request"), status, "sync_push")
        if not isinstance(answer, dict):
            raise AppwriteException("the sync function gave no readable answer", 502, "execution_failed")
        return answer

    def push(self, ops: list[dict[str, Any]]) -> list[PushAnswer]:
        answer = self._execute({"team": self.settings.team, "device": self.device, "ops": ops})
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(ops):
            raise AppwriteException("the sync function answered another batch", 502, "execution_failed")
        answers = []
        for op, result in zip(ops, results, strict=True):
            if not isinstance(result, dict) or result.get("id") != op["id"]:
                raise AppwriteException("the sync function answered another batch", 502, "execution_failed")
            status = str(result.get("status"))
            if status not in ("applied", "duplicate", "rejected", "conflict"):
                raise AppwriteException(f"unknown answer {status!r}", 502, "execution_failed")
            server = result.get("server")
            answers.append(PushAnswer(op["id"], status, str(result.get("reason") or ""), server or None))
        return answers

    def summary(self) -> dict[str, Any]:
        # Only the tables this workstation compares (it keeps no audit events of the others, for one).
        tables = [t.name for t in SYNC_TABLES if t.pull]
        return self._execute({"team": self.settings.team, "device": self.device, "summary": True, "tables": tables})

    def list_rows(self, table: str, queries: list[str]) -> list[dict[str, Any]]:
        result = self.tables.list_rows(self.settings.database, table, queries)
        return [{**row.data, "$id": row.id, "$updatedAt": row.updatedat} for row in result.rows]

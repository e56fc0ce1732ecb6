"""A tiny function for the stand-in's own tests: echoes what it was given, and can misbehave on request."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from appwrite.client import Client
from appwrite.services.tables_db import TablesDB
from echo_helpers import describe


def main(context: Any) -> Any:
    req = context.req
    action = req.query.get("action", "")
    context.log("echo", describe(req.method, req.path))
    if action == "raise":
        raise RuntimeError("asked to fail")
    if action == "sleep":
        time.sleep(float(req.query.get("seconds", "1")))
    if action == "none":
        return None
    if action == "write":  # with the dynamic key Appwrite hands the execution
        client = (
            Client()
            .set_endpoint(os.environ["APPWRITE_FUNCTION_API_ENDPOINT"])
            .set_project(os.environ["APPWRITE_FUNCTION_PROJECT_ID"])
            .set_key(req.headers["x-appwrite-key"])
        )
        row = TablesDB(client).create_row("main", "notes", req.body_json["id"], {"text": req.body_json["text"]})
        return context.res.json({"created": row.id}, 201)
    if action == "key":
        return context.res.text(req.headers.get("x-appwrite-key", ""))
    return context.res.json(
        {
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "body": req.body_text,
            "sha256": hashlib.sha256(req.body_binary).hexdigest(),
            "headers": req.headers,
            "env": {k: v for k, v in os.environ.items() if k.startswith(("APPWRITE_", "ECHO_"))},
        },
        statusCode=int(req.query.get("status", "200")),
        headers={"x-echo": "yes"},
    )

"""A stand-in for an Appwrite server (the endpoints RxDesk uses) on 127.0.0.1, checked against the published API.

server = AppwriteStandin().start()            # or the ``appwrite`` / ``appwrite_server`` fixtures
key = server.create_api_key()                  # standard_… with every scope served
user_id = server.create_user("a@example.org", "password-123")
team_id = server.create_team("Clinic"); server.add_membership(team_id, user_id, ["admin"])
server.load_config("tests/fakes/appwrite_project/appwrite.config.json")
tables = TablesDB(server.client(key=key))      # the official SDK
server.drop_after("POST", r"/v1/tablesdb/.*/rows")   # faults; server.restart(); server.requests; ...
server.wait_for_executions()                   # row events run subscribed functions asynchronously (events.py)
server.run_schedule("notify")                  # a function's CRON run, waited for
assert not server.violations
"""

from .contract import SPEC_OVERRIDES, Violation
from .errors import ApiError
from .plugin import BACKEND_CONFIG
from .standin import AppwriteStandin, Fault, LoggedRequest
from .state import ManualClock

__all__ = [
    "BACKEND_CONFIG",
    "SPEC_OVERRIDES",
    "ApiError",
    "AppwriteStandin",
    "Fault",
    "LoggedRequest",
    "ManualClock",
    "Violation",
]

"""Which Appwrite project this workstation syncs with, and its signed-in session.

The server's address, project, database and team are settings of the installation (nothing secret). The session
secret lives in the OS keyring only. Sign-in goes straight to ``POST /v1/account/sessions/email`` with httpx: the
secret comes back in the ``X-Fallback-Cookies`` header (DESIGN.md §6), and is sent as ``X-Appwrite-Session`` after.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import RxDeskError
from core.settings import SYNC_SERVER_SETTING, read_setting, workstation_name, write_setting
from core.storage.database import Database
from core.users.roles import Permission, require
from sync.secrets import delete_secret, get_secret, set_secret

if TYPE_CHECKING:
    import httpx
# The Appwrite SDK and httpx are imported where a sign-in uses them: showing the connection must stay quick.

SETTING = SYNC_SERVER_SETTING
_SESSION_WHAT = "the server session"
DEFAULT_DATABASE = "rxdesk"


class SignInError(RxDeskError):
    """Signing in to the server failed; ``str()`` says why in one sentence."""


@dataclass(frozen=True)
class ServerSettings:
    endpoint: str  # e.g. https://cloud.appwrite.io/v1
    project: str
    team: str  # the organisation's Appwrite team
    email: str  # who signed this workstation in (shown in the sync panel)
    workstation: str  # this installation's name: two installations on one computer keep their own sessions
    database: str = DEFAULT_DATABASE

    @property
    def secret_name(self) -> str:
        return f"appwrite-session:{self.workstation}:{self.project}@{self.endpoint}"


def read_server_settings(database: Database) -> ServerSettings | None:
    with database.reader() as session:
        stored = read_setting(session, SETTING)
    return ServerSettings(**stored) if stored else None


def session_secret(settings: ServerSettings) -> str | None:
    return get_secret(settings.secret_name, _SESSION_WHAT)


def sign_in(
    database: Database,
    endpoint: str,
    project: str,
    email: str,
    password: str,
    *,
    team: str | None = None,
    timeout_s: float = 20.0,
) -> ServerSettings:
    """Sign this workstation in to the server and remember where (settings) and how (keyring). Raises SignInError.

    ``team`` may be left out when the account belongs to exactly one team.
    """
    import httpx

    from sync.appwrite_api import CONNECT_TIMEOUT_S

    endpoint = endpoint.rstrip("/")
    try:
        response = httpx.post(
            f"{endpoint}/account/sessions/email",
            json={"email": email, "password": password},
            headers={"X-Appwrite-Project": project, "Content-Type": "application/json"},
            timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
        )
    except httpx.TimeoutException as exc:
        raise SignInError("The server did not answer in time; check the connection and try again.") from exc
    except httpx.HTTPError as exc:
        raise SignInError("The server could not be reached; check its address and the connection.") from exc
    if response.status_code == 401:
        raise SignInError("The email or password is wrong.")
    if response.status_code == 429:
        raise SignInError("Too many sign-in attempts for this account: wait an hour, then try again.")
    if response.status_code >= 400:
        raise SignInError(f"The server refused the sign-in ({response.status_code}: {_message(response)}).")
    secret = _fallback_secret(response, project)
    if secret is None:
        raise SignInError("The server signed in but sent no session; is this an Appwrite server?")
    chosen = _team(endpoint, project, secret, team)
    settings = ServerSettings(endpoint, project, chosen, email, workstation_name(database))
    set_secret(settings.secret_name, secret, _SESSION_WHAT)
    with database.transaction() as session:
        write_setting(session, SETTING, asdict(settings))
    return settings


def sign_out(database: Database, *, forget_server: bool = False) -> None:
    """Forget the session (the server keeps the queue's place: nothing queued is lost)."""
    settings = read_server_settings(database)
    if settings is None:
        return
    delete_secret(settings.secret_name, _SESSION_WHAT)
    if forget_server:
        with database.transaction() as session:
            write_setting(session, SETTING, None)


def _fallback_secret(response: httpx.Response, project: str) -> str | None:
    raw = response.headers.get("X-Fallback-Cookies")
    if not raw:
        return None
    try:
        cookies = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(cookies, dict):
        return None
    secret = cookies.get(f"a_session_{project}") or cookies.get(f"a_session_{project.lower()}")
    return secret if isinstance(secret, str) and secret else None


def _team(endpoint: str, project: str, secret: str, wanted: str | None) -> str:
    from appwrite.exception import AppwriteException
    from appwrite.services.teams import Teams

    from sync.appwrite_api import describe, session_client

    try:
        teams = Teams(session_client(endpoint, project, secret)).list()
    except AppwriteException as exc:
        raise SignInError(f"Signed in, but the account's teams could not be read ({describe(exc)})") from exc
    ids = {t.id: t.name for t in teams.teams}
    if wanted is not None:
        if wanted not in ids:
            raise SignInError("This account is not a member of that organisation's team on the server.")
        return wanted
    if len(ids) == 1:
        return str(next(iter(ids)))
    if not ids:
        raise SignInError("This account is not a member of any organisation on the server: ask its admin.")
    raise SignInError("This account belongs to several organisations: say which team this workstation is for.")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "no details"
    return str(body.get("message", "no details")) if isinstance(body, dict) else "no details"


def connect_workstation(
    ctx: ServiceContext,
    endpoint: str,
    project: str,
    email: str,
    password: str,
    *,
    team: str | None = None,
) -> ServerSettings:
    """Sign this workstation in to the server, as the signed-in user. Anyone may sign it in again to the same
    server and team (a session that ended); connecting it to another server or team is an admin's (audited)."""
    current = read_server_settings(ctx.database)
    same = current is not None and (current.endpoint, current.project) == (endpoint.rstrip("/"), project)
    if not same or (team is not None and current is not None and team != current.team):
        require(ctx, Permission.MANAGE_USERS)
    settings = sign_in(
        ctx.database, endpoint, project, email, password, team=team or (current.team if same and current else None)
    )
    with ctx.database.transaction() as session:
        record_event(
            session,
            ctx,
            "sync.sign_in",
            "workstation",
            ctx.workstation,
            after={"endpoint": settings.endpoint, "project": settings.project, "team": settings.team, "email": email},
        )
    return settings


def disconnect_workstation(ctx: ServiceContext) -> None:
    """Sign this workstation out of the server, as an admin (audited): sync pauses until someone signs in again;
    the server's address stays for that, and nothing queued is lost."""
    require(ctx, Permission.MANAGE_USERS)
    settings = read_server_settings(ctx.database)
    if settings is None:
        return
    sign_out(ctx.database)
    with ctx.database.transaction() as session:
        record_event(
            session,
            ctx,
            "sync.sign_out",
            "workstation",
            ctx.workstation,
            before={"endpoint": settings.endpoint, "project": settings.project, "email": settings.email},
        )

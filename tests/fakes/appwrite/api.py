"""Account, Health, Users, Teams and Functions endpoints (TablesDB is in ``rows.py``)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from .errors import ApiError
from .routing import Call, Reply, route
from .state import (
    APP_VERSION,
    SESSION_DURATION,
    Execution,
    Function,
    Membership,
    Session,
    Team,
    User,
    encode_session_secret,
    format_time,
    new_secret,
    unique_id,
    valid_custom_id,
)


def hash_password(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def user_model(user: User) -> dict[str, Any]:
    return {
        "$id": user.id,
        "$createdAt": user.created_at,
        "$updatedAt": user.updated_at,
        "name": user.name,
        "registration": user.created_at,
        "status": user.status,
        "labels": list(user.labels),
        "passwordUpdate": user.password_update,
        "email": user.email,
        "phone": user.phone,
        "emailVerification": user.email_verification,
        "phoneVerification": False,
        "mfa": False,
        "prefs": dict(user.prefs),
        "targets": [],
        "accessedAt": user.accessed_at,
    }


def session_model(call: Call, session: Session, secret: str) -> dict[str, Any]:
    user = call.standin.state.users[session.user_id]
    return {
        "$id": session.id,
        "$createdAt": format_time(session.created_at),
        "$updatedAt": format_time(session.created_at),
        "userId": user.id,
        "expire": format_time(session.expire),
        "provider": "email",
        "providerUid": session.provider_uid,
        "providerAccessToken": "",
        "providerAccessTokenExpiry": "",
        "providerRefreshToken": "",
        "ip": session.ip,
        "osCode": "",
        "osName": "",
        "osVersion": "",
        "clientType": "library",
        "clientCode": "",
        "clientName": "",
        "clientVersion": "",
        "clientEngine": "",
        "clientEngineVersion": "",
        "deviceName": "",
        "deviceBrand": "",
        "deviceModel": "",
        "countryCode": "--",
        "countryName": "Unknown",
        "current": True,
        "factors": ["password"],
        # A sensitive attribute: only API keys see it in the body; everyone gets it in X-Fallback-Cookies.
        "secret": secret if call.caller.is_key else "",
        "mfaUpdatedAt": "",
    }


# ---------------------------------------------------------------------------------------------------------------
# Health


@route("GET", "/health/version", "public", needs_project=False)
def health_version(call: Call) -> Reply:
    return Reply(200, {"version": APP_VERSION})


# ---------------------------------------------------------------------------------------------------------------
# Account


@route("POST", "/account/sessions/email", "sessions.write")
def create_email_password_session(call: Call) -> Reply:
    email = call.required("email")
    password = call.required("password")
    if not isinstance(email, str) or "@" not in email:
        raise ApiError("general_argument_invalid", "Invalid `email` param: Value must be a valid email address")
    if not isinstance(password, str) or len(password) < 8:
        raise ApiError("general_argument_invalid", "Invalid `password` param: Password must be at least 8 characters")
    standin = call.standin
    headers = standin.check_session_rate_limit(call, email)
    state = standin.state
    user = next((u for u in state.users.values() if u.email == email.lower()), None)
    if user is None or user.password is None or not hmac.compare_digest(user.password, hash_password(password)):
        raise ApiError("user_invalid_credentials", headers=headers)
    if not user.status:
        raise ApiError("user_blocked", headers=headers)
    now = standin.now()
    raw_secret = new_secret(64)
    session = Session(unique_id(), user.id, raw_secret, now, now + timedelta(seconds=SESSION_DURATION), user.email)
    state.sessions[session.id] = session
    standin.reset_session_rate_limit(email)
    encoded = encode_session_secret(user.id, raw_secret)
    cookie = f"a_session_{state.project_id}"
    headers["X-Fallback-Cookies"] = standin.fallback_cookies_header(cookie, encoded)
    headers["Set-Cookie"] = f"{cookie}={encoded}; expires={format_time(session.expire)}; path=/; httponly"
    return Reply(201, session_model(call, session, encoded), headers)


@route("GET", "/account", "account")
def get_account(call: Call) -> Reply:
    assert call.caller.user is not None
    return Reply(200, user_model(call.caller.user))


@route("DELETE", "/account/sessions/{sessionId}", "account")
def delete_session(call: Call) -> Reply:
    session_id = call.params["sessionId"]
    current = call.caller.session
    if session_id == "current":
        if current is None:
            raise ApiError("user_session_not_found")
        session_id = current.id
    session = call.standin.state.sessions.get(session_id)
    if session is None or session.user_id != call.caller.user_id or session.revoked:
        raise ApiError("user_session_not_found")
    session.revoked = True
    headers = {}
    if current is not None and current.id == session_id:
        headers["X-Fallback-Cookies"] = "[]"
    return Reply(204, None, headers)


# ---------------------------------------------------------------------------------------------------------------
# Users (API key)


def _user(call: Call) -> User:
    user = call.standin.state.users.get(call.params["userId"])
    if user is None:
        raise ApiError("user_not_found")
    return user


@route("POST", "/users", "users.write")
def create_user(call: Call) -> Reply:
    user_id = call.required("userId")
    email = call.arg("email")
    password = call.arg("password")
    user = call.standin.add_user(
        user_id=user_id, email=email, password=password, name=call.arg("name") or "", phone=call.arg("phone") or ""
    )
    return Reply(201, user_model(user))


@route("GET", "/users", "users.read")
def list_users(call: Call) -> Reply:
    users = list(call.standin.state.users.values())
    return Reply(200, {"total": len(users), "users": [user_model(u) for u in users]})


@route("GET", "/users/{userId}", "users.read")
def get_user(call: Call) -> Reply:
    return Reply(200, user_model(_user(call)))


@route("PUT", "/users/{userId}/labels", "users.write")
def update_labels(call: Call) -> Reply:
    user = _user(call)
    labels = call.required("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) and x.isalnum() for x in labels):
        raise ApiError("general_argument_invalid", "Invalid `labels` param: Value must a valid array.")
    user.labels = list(dict.fromkeys(labels))
    user.updated_at = call.standin.stamp()
    return Reply(200, user_model(user))


@route("GET", "/users/{userId}/prefs", "users.read")
def get_prefs(call: Call) -> Reply:
    return Reply(200, dict(_user(call).prefs))


@route("PATCH", "/users/{userId}/prefs", "users.write")
def update_prefs(call: Call) -> Reply:
    user = _user(call)
    prefs = call.required("prefs")
    if not isinstance(prefs, dict):
        raise ApiError("general_argument_invalid", "Invalid `prefs` param: Value must be a valid object.")
    user.prefs = dict(prefs)
    user.updated_at = call.standin.stamp()
    return Reply(200, dict(user.prefs))


@route("PATCH", "/users/{userId}/status", "users.write")
def update_status(call: Call) -> Reply:
    user = _user(call)
    status = call.required("status")
    if not isinstance(status, bool):
        raise ApiError("general_argument_invalid", "Invalid `status` param: Value must be a valid boolean")
    user.status = status
    user.updated_at = call.standin.stamp()
    return Reply(200, user_model(user))


# ---------------------------------------------------------------------------------------------------------------
# Teams


def team_model(call: Call, team: Team) -> dict[str, Any]:
    members = [m for m in call.standin.state.memberships.values() if m.team_id == team.id and m.confirm]
    return {
        "$id": team.id,
        "$createdAt": team.created_at,
        "$updatedAt": team.updated_at,
        "name": team.name,
        "total": len(members),
        "prefs": dict(team.prefs),
    }


def membership_model(call: Call, membership: Membership) -> dict[str, Any]:
    state = call.standin.state
    user = state.users.get(membership.user_id)
    team = state.teams[membership.team_id]
    return {
        "$id": membership.id,
        "$createdAt": membership.created_at,
        "$updatedAt": membership.updated_at,
        "userId": membership.user_id,
        "userName": user.name if user else "",
        "userEmail": user.email if user else "",
        "userPhone": user.phone if user else "",
        "userAccessedAt": user.accessed_at if user else "",  # SDK 27's Membership model has it
        "teamId": team.id,
        "teamName": team.name,
        "invited": membership.invited,
        "joined": membership.joined,
        "confirm": membership.confirm,
        "mfa": False,
        "roles": list(membership.roles),
    }


def _team(call: Call, *, write: bool = False) -> Team:
    team = call.standin.state.teams.get(call.params["teamId"])
    caller = call.caller
    if team is None or not (caller.is_key or f"team:{team.id}" in caller.roles):
        raise ApiError("team_not_found")
    if write and not caller.is_key and f"team:{team.id}/owner" not in caller.roles:
        raise ApiError("user_unauthorized")
    return team


@route("POST", "/teams", "teams.write")
def create_team(call: Call) -> Reply:
    team_id = call.required("teamId")
    name = call.required("name")
    roles = call.arg("roles") or ["owner"]
    team = call.standin.add_team(name, team_id)
    if call.caller.user is not None and not call.caller.is_key:  # the creator joins as owner
        call.standin.add_member(team.id, call.caller.user.id, roles)
    return Reply(201, team_model(call, team))


@route("GET", "/teams", "teams.read")
def list_teams(call: Call) -> Reply:
    teams = [t for t in call.standin.state.teams.values() if call.caller.is_key or f"team:{t.id}" in call.caller.roles]
    return Reply(200, {"total": len(teams), "teams": [team_model(call, t) for t in teams]})


@route("GET", "/teams/{teamId}", "teams.read")
def get_team(call: Call) -> Reply:
    return Reply(200, team_model(call, _team(call)))


@route("POST", "/teams/{teamId}/memberships", "teams.write")
def create_membership(call: Call) -> Reply:
    team = _team(call, write=True)
    roles = call.required("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ApiError("general_argument_invalid", "Invalid `roles` param: Value must a valid array.")
    state = call.standin.state
    user_id, email = call.arg("userId"), call.arg("email")
    if user_id:
        user = state.users.get(user_id)
        if user is None:
            raise ApiError("user_not_found")
    elif email:
        user = next((u for u in state.users.values() if u.email == str(email).lower()), None)
        if user is None:
            user = call.standin.add_user(user_id="unique()", email=email, password=None, name=call.arg("name") or "")
    else:
        raise ApiError("general_argument_invalid", "At least one of userId, email, or phone is required")
    # An API key adds the member directly; a team owner only invites (Appwrite would email the invitation).
    membership = call.standin.add_member(team.id, user.id, roles, confirm=call.caller.is_key)
    return Reply(201, membership_model(call, membership))


@route("GET", "/teams/{teamId}/memberships", "teams.read")
def list_memberships(call: Call) -> Reply:
    team = _team(call)
    members = [m for m in call.standin.state.memberships.values() if m.team_id == team.id]
    return Reply(200, {"total": len(members), "memberships": [membership_model(call, m) for m in members]})


def _membership(call: Call, team: Team) -> Membership:
    membership = call.standin.state.memberships.get(call.params["membershipId"])
    if membership is None or membership.team_id != team.id:
        raise ApiError("membership_not_found")
    return membership


@route("GET", "/teams/{teamId}/memberships/{membershipId}", "teams.read")
def get_membership(call: Call) -> Reply:
    return Reply(200, membership_model(call, _membership(call, _team(call))))


@route("PATCH", "/teams/{teamId}/memberships/{membershipId}", "teams.write")
def update_membership(call: Call) -> Reply:
    membership = _membership(call, _team(call, write=True))
    roles = call.required("roles")
    if not isinstance(roles, list):
        raise ApiError("general_argument_invalid", "Invalid `roles` param: Value must a valid array.")
    membership.roles = list(roles)
    membership.updated_at = call.standin.stamp()
    return Reply(200, membership_model(call, membership))


@route("DELETE", "/teams/{teamId}/memberships/{membershipId}", "teams.write")
def delete_membership(call: Call) -> Reply:
    membership = _membership(call, _team(call, write=True))
    del call.standin.state.memberships[membership.id]
    return Reply(204)


# ---------------------------------------------------------------------------------------------------------------
# Functions


def function_model(function: Function) -> dict[str, Any]:
    return {
        "$id": function.id,
        "$createdAt": function.created_at,
        "$updatedAt": function.updated_at,
        "execute": list(function.execute),
        "name": function.name,
        "enabled": function.enabled,
        "live": True,
        "logging": function.logging,
        "runtime": function.runtime,
        "deploymentRetention": 0,
        "deploymentId": "standin",
        "deploymentCreatedAt": function.created_at,
        "latestDeploymentId": "standin",
        "latestDeploymentCreatedAt": function.created_at,
        "latestDeploymentStatus": "ready",
        "scopes": list(function.scopes),
        "vars": [],
        "events": list(function.events),
        "schedule": function.schedule,
        "timeout": function.timeout,
        "entrypoint": function.entrypoint,
        "commands": "",
        "version": "v5",
        "installationId": "",
        "providerRepositoryId": "",
        "providerBranch": "",
        "providerRootDirectory": "",
        "providerSilentMode": False,
        "buildSpecification": "s-1vcpu-512mb",
        "runtimeSpecification": "s-1vcpu-512mb",
        "description": "",  # SDK 27
    }


def execution_model(execution: Execution) -> dict[str, Any]:
    return {
        "$id": execution.id,
        "$createdAt": execution.created_at,
        "$updatedAt": execution.updated_at,
        "$permissions": list(execution.permissions),
        "functionId": execution.function_id,
        "resourceId": execution.function_id,  # SDK 27 (response format 2.5) names the function so
        "resourceType": "functions",
        "deploymentId": "standin",
        "trigger": execution.trigger,
        "status": execution.status,
        "requestMethod": execution.request_method,
        "requestPath": execution.request_path,
        "requestHeaders": [dict(h) for h in execution.request_headers],
        "responseStatusCode": execution.response_status_code,
        "responseBody": execution.response_body,
        "responseHeaders": [dict(h) for h in execution.response_headers],
        "logs": execution.logs,
        "errors": execution.errors,
        "duration": execution.duration,
        "scheduledAt": None,
    }


def _function(call: Call) -> Function:
    function = call.standin.state.functions.get(call.params["functionId"])
    if function is None or (not function.enabled and not call.caller.is_key):
        raise ApiError("function_not_found")
    return function


@route("GET", "/functions", "functions.read")
def list_functions(call: Call) -> Reply:
    functions = list(call.standin.state.functions.values())
    return Reply(200, {"total": len(functions), "functions": [function_model(f) for f in functions]})


@route("GET", "/functions/{functionId}", "functions.read")
def get_function(call: Call) -> Reply:
    return Reply(200, function_model(_function(call)))


@route("POST", "/functions/{functionId}/executions", "executions.write", "execution.write", locked=False)
def create_execution(call: Call) -> Reply:
    function = _function(call)
    body = call.arg("body", "")
    xasync = call.arg("async", False)
    path = call.arg("path", "/")
    method = call.arg("method", "POST")
    headers = call.arg("headers") or {}
    if call.arg("scheduledAt") is not None:
        raise ApiError("general_argument_invalid", "Scheduled executions are not supported by the stand-in")
    if not isinstance(body, str) or not isinstance(path, str) or not isinstance(xasync, bool):
        raise ApiError("general_argument_invalid", "Invalid `body`, `path` or `async` param")
    if method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"):
        raise ApiError("general_argument_invalid", "Invalid `method` param: Value must be one of (GET, POST, ...)")
    if not isinstance(headers, dict) or not _headers_valid(headers):
        raise ApiError(
            "general_argument_invalid",
            'Invalid headers: Alphanumeric characters or hyphens only, cannot start with "x-appwrite", '
            "maximum 100 keys, and total size 16384.",
        )
    roles = call.caller.roles
    if not call.caller.is_key and not (set(function.execute) & roles):
        raise ApiError(
            "user_unauthorized",
            f'Missing "execute" permission for role "{sorted(roles)[0] if roles else "guests"}". Only '
            f'"{function.execute}" scopes are allowed and "{sorted(roles)}" was given.',
        )
    execution = call.standin.execute_function(
        function,
        trigger_headers={str(k): str(v) for k, v in headers.items()},
        body=body.encode("utf-8"),
        path=path,
        method=method,
        user=call.caller.user,
        session=call.caller.session,
        client_ip=call.client_ip,
        asynchronous=xasync,
    )
    return Reply(202 if xasync else 201, execution_model(execution))


def _headers_valid(headers: dict[str, Any]) -> bool:
    size = 0
    if len(headers) > 100:
        return False
    for key, value in headers.items():
        if not isinstance(key, str) or not key or not key[0].isalnum() or not key[-1].isalnum():
            return False
        if not all(c.isalnum() or c == "-" for c in key) or key.lower().startswith("x-appwrite-"):
            return False
        size += len(key) + len(str(value))
        if size >= 16384:
            return False
    return True


def _readable_execution(call: Call, execution: Execution) -> bool:
    return call.caller.is_key or f'read("user:{call.caller.user_id}")' in execution.permissions


@route("GET", "/functions/{functionId}/executions", "executions.read", "execution.read")
def list_executions(call: Call) -> Reply:
    function = _function(call)
    found = [
        e
        for e in call.standin.state.executions.values()
        if e.function_id == function.id and _readable_execution(call, e)
    ]
    return Reply(200, {"total": len(found), "executions": [execution_model(e) for e in found]})


@route("GET", "/functions/{functionId}/executions/{executionId}", "executions.read", "execution.read")
def get_execution(call: Call) -> Reply:
    function = _function(call)
    execution = call.standin.state.executions.get(call.params["executionId"])
    if execution is None or execution.function_id != function.id or not _readable_execution(call, execution):
        raise ApiError("execution_not_found")
    return Reply(200, execution_model(execution))


def check_new_id(value: Any, name: str) -> str:
    if value == "unique()":
        return unique_id()
    if not isinstance(value, str) or not valid_custom_id(value):
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `{name}` param: Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, "
            "period, hyphen, and underscore. Can't start with a special char",
        )
    return value

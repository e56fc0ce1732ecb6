"""notify: tells patients that their prescription is signed, dispensed, or that the rest of it is ready to collect.

Appwrite runs it on row events of the ``prescription`` and ``owing`` tables (``x-appwrite-trigger: event``, the row as
the body) and on its schedule (``x-appwrite-trigger: schedule``). For an event whose row has just reached a status
that patients hear about (``TRIGGERS``) it takes the patient's way of being told and consent from the ``patient``
row, and for each channel (email, SMS):

1. claims the notification: creates the ``notification`` row whose id is derived from (row id, event, channel). A
   second delivery of the same event finds it there (409) and sends nothing;
2. sends nothing without consent, to a channel the patient did not choose, or to an address that is not valid
   (a UK mobile number, as E.164, for SMS): the row is created ``skipped``, with why, at once;
3. sends through SendGrid's v3 API (email) or Twilio's Messages API (SMS) with httpx, explicit timeouts and up to
   ``TRIES`` tries with backoff on 5xx, 429 and network failures (``Retry-After`` honoured, up to a limit);
4. records the outcome on the row: ``sent``, ``failed`` (tried again by the scheduled run), ``rejected`` (the
   provider refused it: not tried again) or ``skipped``, with the provider's last status and the attempts.

The scheduled run sends the ``failed`` ones again (and ``pending`` ones left by a run that died), while their row
still has the status they were about and the patient still consents.

Messages say only what the patient needs ("your prescription"), never a medicine or a name. Nothing personal is
logged: ids, events, channels and outcomes only. Variables: SENDGRID_API_KEY, SENDGRID_FROM, SENDGRID_BASE_URL
(optional), TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM (a number, a sender id or a Messaging Service SID),
TWILIO_BASE_URL (optional); NOTIFY_BACKOFF_SECONDS (optional, default 1), NOTIFY_TIMEOUT_SECONDS (optional, default
10: how long a provider has to answer). A channel whose provider is not
configured is skipped (``not_configured``). Deployed on its own: everything it needs is in this folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB

DB = "rxdesk"
TEAM = "team_id"
NOTIFICATION = "notification"
CHANNELS = ("email", "sms")

# (table, status the row has just reached) → the event patients hear about. sync/server_config.py subscribes the
# function to these tables' create and update events (a test keeps the two in step).
TRIGGERS: dict[tuple[str, str], str] = {
    ("prescription", "signed"): "signed",
    ("prescription", "dispensed"): "dispensed",
    ("owing", "ready"): "owing_ready",
}
# What each event says. {clinic}: where it was prescribed; {pharmacy}: where it is dispensed (the clinic's name when
# no pharmacy is known yet). Nothing clinical beyond "your prescription"; an SMS stays within 160 characters.
TEMPLATES: dict[str, dict[str, str]] = {
    "signed": {
        "subject": "Your prescription has been signed",
        "text": "{clinic}: your prescription has been signed and will be ready at your pharmacy.",
    },
    "dispensed": {
        "subject": "Your prescription has been dispensed",
        "text": "{pharmacy}: your prescription has been dispensed.",
    },
    "owing_ready": {
        "subject": "The rest of your prescription is ready",
        "text": "{pharmacy}: the rest of your prescription is ready to collect.",
    },
}
EMAIL_FOOTER = (
    "\n\nYou asked to be told about your prescriptions. To stop these messages, ask at {clinic} or your pharmacy."
)

TRIES = 3  # within one run
MAX_ATTEMPTS = 12  # over every run: the scheduled run stops trying after this many
RETRY_AFTER_LIMIT = 10.0  # seconds: a longer Retry-After is left to the scheduled run
STALE_PENDING = timedelta(minutes=10)  # a claim with no outcome this old was left by a run that died
TIMEOUT_SECONDS = 10.0  # a provider's answer (connecting: at most 5 s)
PAGE = 100

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
# UK mobiles (as RxDesk's core.validation.contact): 07 and nine digits, not 070 (personal numbers) nor 076
# (pagers) except 07624 (Isle of Man). Longest prefix first.
MOBILE_PREFIXES: tuple[tuple[str, bool], ...] = (("07624", True), ("070", False), ("076", False), ("07", True))


def uk_mobile_e164(text: str | None) -> str | None:
    """A UK mobile number as E.164 (+447…), or None when it is not one."""
    compact = re.sub(r"[\s()-]", "", text or "")
    if compact.startswith("+44"):
        compact = "0" + compact[3:].removeprefix("0")
    elif compact.startswith("0044"):
        compact = "0" + compact[4:].removeprefix("0")
    if not re.fullmatch(r"0\d{10}", compact):
        return None
    if not next((ok for prefix, ok in MOBILE_PREFIXES if compact.startswith(prefix)), False):
        return None
    return "+44" + compact[1:]


def valid_email(text: str | None) -> str | None:
    email = (text or "").strip()
    return email if len(email) <= 254 and _EMAIL.fullmatch(email) else None


def notification_id(row_id: str, event: str, channel: str) -> str:
    """The notification row's id: the same (row, event, channel) always gives the same id (36 hex characters)."""
    return hashlib.sha256(f"{row_id}:{event}:{channel}".encode()).hexdigest()[:36]


# -- providers --------------------------------------------------------------------------------------------------


@dataclass
class Delivery:
    ok: bool
    status: int  # the provider's last HTTP status (0: no answer)
    attempts: int
    provider_id: str | None = None
    retryable: bool = False


class Provider:
    channel = ""

    def __init__(self, http: httpx.Client, backoff: float) -> None:
        self.http = http
        self.backoff = backoff

    def request(self, to: str, subject: str, text: str, sender_name: str) -> httpx.Response:
        raise NotImplementedError

    def message_id(self, response: httpx.Response) -> str | None:
        raise NotImplementedError

    def send(self, to: str, subject: str, text: str, sender_name: str) -> Delivery:
        """Up to TRIES tries: again after a 5xx, a 429 or no answer, waiting longer each time."""
        status = 0
        for attempt in range(1, TRIES + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                response = self.request(to, subject, text, sender_name)
            except httpx.HTTPError:
                status = 0
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return Delivery(True, status, attempt, self.message_id(response))
                if status != 429 and status < 500:
                    return Delivery(False, status, attempt)
                wait = max(wait, _retry_after(response))
                if wait > RETRY_AFTER_LIMIT:
                    return Delivery(False, status, attempt, retryable=True)
            if attempt < TRIES:
                time.sleep(wait)
        return Delivery(False, status, TRIES, retryable=True)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


class SendGrid(Provider):
    """SendGrid v3: POST /v3/mail/send with a Bearer key; 202 Accepted, the message id in X-Message-Id."""

    channel = "email"

    def __init__(self, http: httpx.Client, backoff: float, key: str, sender: str, base_url: str) -> None:
        super().__init__(http, backoff)
        self.key, self.sender, self.base_url = key, sender, base_url.rstrip("/")

    def request(self, to: str, subject: str, text: str, sender_name: str) -> httpx.Response:
        body = {
            "personalizations": [{"to": [{"email": to}]}],
            "from": {"email": self.sender, "name": sender_name[:100]},
            "subject": subject,
            "content": [{"type": "text/plain", "value": text}],
            "tracking_settings": {"click_tracking": {"enable": False}, "open_tracking": {"enable": False}},
        }
        return self.http.post(
            f"{self.base_url}/v3/mail/send", json=body, headers={"Authorization": f"Bearer {self.key}"}
        )

    def message_id(self, response: httpx.Response) -> str | None:
        return response.headers.get("x-message-id")


class Twilio(Provider):
    """Twilio: POST /2010-04-01/Accounts/{sid}/Messages.json, basic auth, a form body; 201 with the message's sid."""

    channel = "sms"

    def __init__(self, http: httpx.Client, backoff: float, sid: str, token: str, sender: str, base_url: str) -> None:
        super().__init__(http, backoff)
        self.sid, self.token, self.sender, self.base_url = sid, token, sender, base_url.rstrip("/")

    def request(self, to: str, subject: str, text: str, sender_name: str) -> httpx.Response:
        # A Messaging Service SID (MG…) picks the sender itself; otherwise a number or an alphanumeric sender id.
        sender = {"MessagingServiceSid": self.sender} if self.sender.startswith("MG") else {"From": self.sender}
        return self.http.post(
            f"{self.base_url}/2010-04-01/Accounts/{self.sid}/Messages.json",
            data={"To": to, **sender, "Body": text},
            auth=(self.sid, self.token),
        )

    def message_id(self, response: httpx.Response) -> str | None:
        try:
            sid = response.json().get("sid")
        except ValueError:
            return None
        return str(sid) if sid else None


def _providers_set() -> bool:
    return bool(os.environ.get("SENDGRID_API_KEY") or os.environ.get("TWILIO_ACCOUNT_SID"))


def providers_from_environment(http: httpx.Client) -> dict[str, Provider]:
    env = os.environ
    backoff = float(env.get("NOTIFY_BACKOFF_SECONDS") or 1.0)
    found: dict[str, Provider] = {}
    if env.get("SENDGRID_API_KEY") and env.get("SENDGRID_FROM"):
        base = env.get("SENDGRID_BASE_URL") or "https://api.sendgrid.com"
        found["email"] = SendGrid(http, backoff, env["SENDGRID_API_KEY"], env["SENDGRID_FROM"], base)
    if env.get("TWILIO_ACCOUNT_SID") and env.get("TWILIO_AUTH_TOKEN") and env.get("TWILIO_FROM"):
        base = env.get("TWILIO_BASE_URL") or "https://api.twilio.com"
        found["sms"] = Twilio(
            http, backoff, env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"], env["TWILIO_FROM"], base
        )
    return found


# -- the function -----------------------------------------------------------------------------------------------


def main(context: Any) -> Any:
    req = context.req
    key = req.headers.get("x-appwrite-key")
    if not key:
        return context.res.json({"message": "notify runs on Appwrite's events and schedule only."}, 401)
    trigger = req.headers.get("x-appwrite-trigger", "")
    client = (
        Client()
        .set_endpoint(os.environ["APPWRITE_FUNCTION_API_ENDPOINT"])
        .set_project(os.environ["APPWRITE_FUNCTION_PROJECT_ID"])
        .set_key(key)
    )
    seconds = float(os.environ.get("NOTIFY_TIMEOUT_SECONDS") or TIMEOUT_SECONDS)
    # An HTTP client costs about 20 ms to make (its TLS context): only where a provider may be called.
    http = httpx.Client(timeout=httpx.Timeout(seconds, connect=min(seconds, 5.0))) if _providers_set() else None
    with http or contextlib.nullcontext():
        notifier = Notifier(TablesDB(client), providers_from_environment(http) if http else {})
        try:
            if trigger == "schedule":
                outcomes = notifier.retry()
                context.log(f"notify: scheduled run: {_counts(outcomes)}")
                return context.res.json({"retried": outcomes})
            if trigger != "event":
                return context.res.json({"message": "notify runs on Appwrite's events and schedule only."}, 400)
            event = req.headers.get("x-appwrite-event", "")
            parts = event.split(".")
            try:
                row = req.body_json if req.body_text else {}
            except ValueError:
                row = None
            if len(parts) != 7 or parts[2] != "tables" or not isinstance(row, dict):
                context.log("notify: not a row event: ignored")
                return context.res.json({"ignored": True})
            table, row_id = parts[3], parts[5]
            kind = TRIGGERS.get((table, str(row.get("status"))))
            if kind is None:
                context.log(f"notify: {table} {row_id} {parts[6]}: nothing to tell")
                return context.res.json({"ignored": True})
            outcomes = notifier.handle(table, {**row, "$id": row_id}, kind)
        except AppwriteException as exc:
            context.error(f"notify: database error {exc.code} {exc.type}")
            return context.res.json({"message": "The database did not answer; the scheduled run tries again."}, 503)
    context.log(f"notify: {table} {row_id} {kind}: " + ", ".join(f"{c} {o}" for c, o in outcomes.items()))
    return context.res.json({"event": kind, "outcomes": outcomes})


def _counts(outcomes: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@dataclass
class Recipient:
    team: str
    patient_id: str | None
    patient: dict[str, Any] | None
    prescription: dict[str, Any] | None
    clinic: str = ""  # the names, read only when a message is sent (``Notifier.named``)
    pharmacy: str = ""


class Notifier:
    def __init__(self, tables: TablesDB, providers: dict[str, Provider]) -> None:
        self.tables = tables
        self.providers = providers

    def handle(self, table: str, row: dict[str, Any], kind: str) -> dict[str, str]:
        """One event: each channel claimed, then sent, skipped or failed. {channel: outcome}."""
        recipient = self.recipient(table, row)
        outcomes = {}
        for channel in CHANNELS:
            notification = notification_id(str(row["$id"]), kind, channel)
            address, reason = self.address(channel, recipient.patient)
            if address is None or channel not in self.providers:
                # Nothing to send: the notification is recorded as skipped at once (a replay finds it).
                skipped = reason or "not_configured"
                claimed = self.claim(notification, recipient, table, str(row["$id"]), kind, channel, skipped)
                outcomes[channel] = "skipped" if claimed else "duplicate"
                continue
            if not self.claim(notification, recipient, table, str(row["$id"]), kind, channel):
                outcomes[channel] = "duplicate"
                continue
            outcomes[channel] = self.deliver(notification, channel, kind, recipient, 0)
        return outcomes

    def retry(self) -> dict[str, str]:
        """The scheduled run: failed notifications (and pending ones left by a run that died) sent again while
        their row is still as it was and the patient still consents. {notification id: outcome}."""
        outcomes: dict[str, str] = {}
        stale = datetime.now(UTC) - STALE_PENDING
        for note in self._rows(
            NOTIFICATION, [Query.equal("status", ["failed", "pending"]), Query.less_than("attempts", MAX_ATTEMPTS)]
        ):
            if note["status"] == "pending" and _when(note.get("$updatedAt")) > stale:
                continue  # another run may be sending it right now
            table, row_id, kind = note["table_name"], note["row_id"], note["event"]
            row = self._get(table, row_id)
            if row is None or TRIGGERS.get((table, str(row.get("status")))) != kind:
                self.finish(note["$id"], "skipped", note["attempts"], reason="overtaken")
                outcomes[note["$id"]] = "skipped"
                continue
            recipient = self.recipient(table, row)
            outcomes[note["$id"]] = self.deliver(note["$id"], note["channel"], kind, recipient, note["attempts"])
        return outcomes

    # -- one notification --------------------------------------------------------------------------------------
    def claim(
        self,
        notification: str,
        to: Recipient,
        table: str,
        row_id: str,
        kind: str,
        channel: str,
        skipped: str | None = None,
    ) -> bool:
        """Create the notification's row: pending, or ``skipped`` for that reason. False: it was there already."""
        data = {
            TEAM: to.team,
            "table_name": table,
            "row_id": row_id,
            "event": kind,
            "channel": channel,
            "patient_id": to.patient_id,
            "status": "skipped" if skipped else "pending",
            "reason": skipped,
            "attempts": 0,
            "provider_status": None,
            "provider_id": None,
        }
        try:
            self.tables.create_row(DB, NOTIFICATION, notification, data, [f'read("team:{to.team}")'])
        except AppwriteException as exc:
            if exc.code == 409:  # this event was delivered before: claimed (and sent) then
                return False
            raise
        return True

    def deliver(self, notification: str, channel: str, kind: str, to: Recipient, attempts: int) -> str:
        address, reason = self.address(channel, to.patient)
        provider = self.providers.get(channel)
        if address is None or provider is None:
            self.finish(notification, "skipped", attempts, reason=reason or "not_configured")
            return "skipped"
        template = TEMPLATES[kind]
        to = self.named(to)
        text = template["text"].format(clinic=to.clinic, pharmacy=to.pharmacy)
        if channel == "email":
            text += EMAIL_FOOTER.format(clinic=to.clinic)
        result = provider.send(address, template["subject"], text, to.pharmacy if kind != "signed" else to.clinic)
        status = "sent" if result.ok else "failed" if result.retryable else "rejected"
        reason = None if result.ok else f"provider answered {result.status}" if result.status else "no answer"
        self.finish(notification, status, attempts + result.attempts, result.status, result.provider_id, reason)
        return status

    @staticmethod
    def address(channel: str, patient: dict[str, Any] | None) -> tuple[str | None, str | None]:
        """Where to send, or None and why not: consent first, then the patient's way, then a valid address."""
        if patient is None:
            return None, "no_patient"
        if not patient.get("consent_at"):
            return None, "no_consent"
        way = patient.get("notify_by") or "none"
        if way not in (channel, "both"):
            return None, "not_chosen"
        if channel == "email":
            email = valid_email(patient.get("email"))
            return (email, None) if email else (None, "invalid_email" if patient.get("email") else "no_email")
        phone = uk_mobile_e164(patient.get("phone"))
        return (phone, None) if phone else (None, "invalid_phone" if patient.get("phone") else "no_phone")

    def finish(
        self,
        notification: str,
        status: str,
        attempts: int,
        provider_status: int | None = None,
        provider_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        data = {
            "status": status,
            "attempts": attempts,
            "provider_status": provider_status,
            "provider_id": provider_id,
            "reason": reason,
        }
        self.tables.update_row(DB, NOTIFICATION, notification, data)

    # -- reading -----------------------------------------------------------------------------------------------
    def recipient(self, table: str, row: dict[str, Any]) -> Recipient:
        prescription: dict[str, Any] | None = row
        if table == "owing":
            item = self._get("prescription_item", str(row.get("item_id")))
            prescription = self._get("prescription", str(item.get("prescription_id"))) if item else None
        team = str(row.get(TEAM) or (prescription or {}).get(TEAM) or "")
        if prescription is None:
            return Recipient(team, None, None, None)
        patient_id = prescription.get("patient_id")
        patient = self._get("patient", str(patient_id)) if patient_id else None
        return Recipient(team, str(patient_id) if patient_id else None, patient, prescription)

    def named(self, to: Recipient) -> Recipient:
        """The recipient with the clinic's and the pharmacy's names, for a message's text."""
        prescription = to.prescription
        if to.clinic or prescription is None:
            return replace(to, clinic=to.clinic or "Your clinic", pharmacy=to.pharmacy or "Your pharmacy")
        clinic = self._name(prescription.get("organisation_id")) or "Your clinic"
        dispensings = self._rows("dispensing", [Query.equal("prescription_id", [prescription["$id"]])])
        latest = max(dispensings, key=lambda d: str(d.get("dispensed_at") or ""), default=None)
        pharmacy = (self._name(latest.get("organisation_id")) if latest else None) or clinic
        return replace(to, clinic=clinic, pharmacy=pharmacy)

    def _name(self, organisation_id: Any) -> str | None:
        organisation = self._get("organisation", str(organisation_id)) if organisation_id else None
        return str(organisation["name"]) if organisation and organisation.get("name") else None

    def _get(self, table: str, row_id: str) -> dict[str, Any] | None:
        try:
            row = self.tables.get_row(DB, table, row_id)
        except AppwriteException as exc:
            if exc.code == 404:
                return None
            raise
        return {**row.data, "$id": row.id, "$updatedAt": row.updatedat}

    def _rows(self, table: str, queries: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = [*queries, Query.order_asc("$id"), Query.limit(PAGE)]
            if cursor is not None:
                page.append(Query.cursor_after(cursor))
            result = self.tables.list_rows(DB, table, page)
            rows += [{**r.data, "$id": r.id, "$updatedAt": r.updatedat} for r in result.rows]
            if len(result.rows) < PAGE:
                return rows
            cursor = result.rows[-1].id


def _when(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)

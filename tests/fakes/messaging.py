"""Stand-ins for the messaging providers the notify function calls: SendGrid's v3 Mail Send and Twilio's Messages API,
real HTTP on 127.0.0.1, recording every request, and able to fail the next N requests (a status such as 500 or 429,
with Retry-After if asked, or no answer in time).

What they check, as the providers do: SendGrid wants ``Authorization: Bearer <key>`` (401 otherwise) and a JSON body
with ``personalizations[].to[].email``, ``from.email``, ``subject`` and ``content[]`` (400 with ``errors``
otherwise), and answers 202 with no body and an ``X-Message-Id``. Twilio wants HTTP basic auth with the account SID
and auth token (401, code 20003), the SID in the path, a form body with ``To`` in E.164, ``Body`` and ``From`` or
``MessagingServiceSid`` (400, code 21211 / 21604 / 21603), and answers 201 with the Message resource (``sid`` SM…,
``status`` queued).

    with SendGridStandin(api_key="SG.test") as sendgrid, TwilioStandin("AC…", "token") as twilio:
        twilio.fail(500, times=2)        # the next two messages get 500; then 201
        ... sendgrid.sent, twilio.sent   # the messages accepted, as the provider saw them
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int = 0  # what was answered (0: nothing, the connection was held past the client's timeout)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


@dataclass
class Failure:
    status: int  # 0: answer nothing for ``seconds`` (a timeout on the client's side), then close
    times: int
    retry_after: str | None = None
    seconds: float = 0.0
    used: int = 0


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ProviderStandin:
    """A small HTTP server on 127.0.0.1 (a thread); subclasses answer ``handle``."""

    name = "provider"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                standin._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ProviderStandin:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ProviderStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail(self, status: int, times: int = 1, *, retry_after: str | None = None) -> None:
        """The next ``times`` requests are answered ``status`` (with the provider's error body)."""
        with self._lock:
            self.failures.append(Failure(status, times, retry_after))

    def hang(self, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests get no answer for ``seconds`` (the client times out first)."""
        with self._lock:
            self.failures.append(Failure(0, times, seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self.failures.clear()
            self.requests.clear()

    def _take_failure(self) -> Failure | None:
        with self._lock:
            for failure in self.failures:
                if failure.used < failure.times:
                    failure.used += 1
                    return failure
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        entry = Recorded(handler.command, handler.path, headers, body)
        with self._lock:
            self.requests.append(entry)
        failure = self._take_failure()
        if failure is not None and failure.status == 0:
            time.sleep(failure.seconds)
            handler.close_connection = True
            return
        if failure is not None:
            answer = self.error(failure.status)
            if failure.retry_after is not None:
                answer.headers["Retry-After"] = failure.retry_after
        else:
            answer = self.handle(entry)
        entry.status = answer.status
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(answer.body)

    def handle(self, request: Recorded) -> _Answer:
        raise NotImplementedError

    def error(self, status: int) -> _Answer:
        raise NotImplementedError

    @property
    def accepted(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


class SendGridStandin(ProviderStandin):
    """POST /v3/mail/send."""

    name = "sendgrid"

    def __init__(self, api_key: str = "SG.test-key") -> None:
        super().__init__()
        self.api_key = api_key

    def error(self, status: int) -> _Answer:
        message = {429: "too many requests", 500: "internal server error", 503: "service unavailable"}
        return _json(status, {"errors": [{"message": message.get(status, "error"), "field": None, "help": None}]})

    def handle(self, request: Recorded) -> _Answer:
        if request.method != "POST" or request.path != "/v3/mail/send":
            return _json(404, {"errors": [{"message": "not found"}]})
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _json(401, {"errors": [{"message": "The provided authorization grant is invalid, expired, or "
                                                      "revoked", "field": None, "help": None}]})  # fmt: skip
        try:
            mail = request.json
        except ValueError:
            return _json(400, {"errors": [{"message": "Bad Request", "field": None}]})
        problems = []
        recipients = [to.get("email") for p in mail.get("personalizations") or [] for to in p.get("to") or []]
        if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
            problems.append(("personalizations.0.to", "The to array is required for all personalization objects."))
        if not (mail.get("from") or {}).get("email"):
            problems.append(("from.email", "The from object must be provided for every email send."))
        if not mail.get("subject"):
            problems.append(("subject", "The subject is required."))
        if not mail.get("content") or not all(c.get("value") for c in mail["content"]):
            problems.append(("content", "Unless a valid template_id is provided, the content parameter is required."))
        if problems:
            return _json(400, {"errors": [{"field": f, "message": m, "help": None} for f, m in problems]})
        return _Answer(202, b"", {"X-Message-Id": secrets.token_urlsafe(16)})

    @property
    def sent(self) -> list[dict[str, Any]]:
        """The mails accepted: to, subject, text (as the patient gets them)."""
        out = []
        for request in self.accepted:
            mail = request.json
            out.append(
                {
                    "to": mail["personalizations"][0]["to"][0]["email"],
                    "from": mail["from"],
                    "subject": mail["subject"],
                    "text": mail["content"][0]["value"],
                }
            )
        return out


_E164 = re.compile(r"\+[1-9]\d{6,14}")


class TwilioStandin(ProviderStandin):
    """POST /2010-04-01/Accounts/{AccountSid}/Messages.json."""

    name = "twilio"

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "twilio-test-token") -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token

    def error(self, status: int) -> _Answer:
        codes = {429: 20429, 500: 20500, 503: 20503}
        return _json(status, {"code": codes.get(status, 20500), "message": "Service error", "more_info": "",
                              "status": status})  # fmt: skip

    def handle(self, request: Recorded) -> _Answer:
        found = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", request.path)
        if request.method != "POST" or found is None:
            return _json(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("authorization") != expected or found.group(1) != self.account_sid:
            return _json(401, {"code": 20003, "message": "Authenticate", "more_info": "", "status": 401})
        form = request.form
        if not _E164.fullmatch(form.get("To", "")):
            return _json(400, {"code": 21211, "message": f"Invalid 'To' Phone Number: {form.get('To', '')}",
                               "status": 400})  # fmt: skip
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _json(400, {"code": 21603, "message": "A 'From' phone number is required.", "status": 400})
        if not form.get("Body"):
            return _json(400, {"code": 21602, "message": "Message body is required.", "status": 400})
        sid = "SM" + secrets.token_hex(16)
        return _json(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": form["To"],
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
        )

    @property
    def sent(self) -> list[dict[str, str]]:
        """The text messages accepted: to, from, body."""
        return [{"to": r.form["To"], "from": r.form.get("From", ""), "body": r.form["Body"]} for r in self.accepted]

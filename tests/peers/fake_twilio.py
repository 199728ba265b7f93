"""A local HTTP server process that speaks the part of Twilio's REST API the providers use:
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded, HTTP Basic auth with the
account SID and auth token), answering as Twilio does — 201 with the message resource, or an error
body `{"code", "message", "more_info", "status"}`. Twilio's magic test numbers give its errors:
+15005550001 → 21211 (invalid number), +15005550009 → 21614 (not a mobile), +15005550004 → 21610
(unsubscribed). `--fail-first N` answers the first N sends 503 (Twilio having a bad minute).
`--rate-limit 1/s` caps the segments it accepts a second (Twilio's rate is per segment, counted as
delivery.segments counts them), all requests together, with a token bucket of one second's worth
refilled continuously: a send above it is answered 429 with Twilio's error 20429 and a `Retry-After`
(whole seconds until the bucket would take it), and is not accepted.

A send with a `StatusCallback` gets its receipts posted there, signed as Twilio signs them
(`X-Twilio-Signature`, HMAC-SHA1 with the auth token, computed by the library's RequestValidator):
`sent`, then `delivered` — or `undelivered` with ErrorCode 30003 for +15005550010. With
`--receipts-first` they are posted before the send is answered: what happens when Twilio's callback
overtakes its answer to our call; `--answer-delay S` then waits S seconds before answering (longer
than the client's timeout: Twilio took the message, the caller saw a timeout).

    python -m tests.peers.fake_twilio --port 8099 --account AC… --token … --out calls.jsonl [--fail-first N]
        [--receipts-first] [--answer-delay S] [--rate-limit 1/s]

Every request it receives is one JSON line in `--out` (what a test counts as provider calls), and so
is each send it accepted (`accepted`) or refused for the rate (`throttled`).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator

from delivery.rates import Rate
from delivery.segments import message_segments
from delivery.token_bucket import TokenBucket
from tests.peers.http_peer import serve_until_stopped

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Messages\.json$")
ADDRESS = re.compile(r"^(whatsapp:)?\+[1-9]\d{1,14}$")
MAGIC_NUMBERS = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
}
UNDELIVERABLE = "+15005550010"  # accepted, then reported undelivered (30003: unreachable handset)


class FakeTwilio:
    def __init__(
        self,
        *,
        account: str,
        token: str,
        out: Path,
        fail_first: int,
        receipts_first: bool,
        answer_delay: float,
        rate: Rate | None = None,
    ) -> None:
        self.account, self.token = account, token
        self.receipts_first = receipts_first
        self.answer_delay = answer_delay
        self.out = out.open("a", encoding="utf-8")
        self.failures_left = fail_first
        self.lock = threading.Lock()
        self.bucket = TokenBucket(rate.per_second) if rate else None

    def record(self, line: dict[str, Any]) -> None:
        with self.lock:
            self.out.write(json.dumps(line) + "\n")
            self.out.flush()

    def post_receipts(self, url: str, message: dict[str, Any]) -> None:
        """Twilio's callbacks for an accepted message, on a thread of their own."""
        final = "undelivered" if message["to"].removeprefix("whatsapp:") == UNDELIVERABLE else "delivered"
        for status in ("sent", final):
            time.sleep(0.05)
            params = {
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "AccountSid": self.account,
                "To": message["to"],
                "From": message["from"] or "",
                "ApiVersion": "2010-04-01",
            }
            if status == "undelivered":
                params["ErrorCode"] = "30003"
            signature = RequestValidator(self.token).compute_signature(url, params)
            request = urllib.request.Request(
                url, data=urllib.parse.urlencode(params).encode(), headers={"X-Twilio-Signature": signature}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = response.status
            except OSError as error:  # Twilio does not retry a failed callback either
                answer = getattr(error, "code", str(error))
            self.record({"callback": url, "params": params, "answer": answer})

    def take_failure(self) -> bool:
        with self.lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return True
            return False


def _handler(twilio: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller gave up waiting (--answer-delay)

        def _error(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
            info = f"https://www.twilio.com/docs/errors/{code}"
            self._answer(status, {"code": code, "message": message, "more_info": info, "status": status}, headers)

        def do_POST(self) -> None:
            match = MESSAGES_PATH.match(self.path)
            length = int(self.headers.get("Content-Length", "0"))
            form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
            twilio.record({"path": self.path, "form": form, "auth": self.headers.get("Authorization", "")})
            if match is None:
                return self._error(404, 20404, "The requested resource was not found")
            expected = "Basic " + base64.b64encode(f"{twilio.account}:{twilio.token}".encode()).decode()
            if match["account"] != twilio.account or self.headers.get("Authorization") != expected:
                return self._error(401, 20003, "Authentication Error - invalid username")
            if twilio.take_failure():
                return self._error(503, 20500, "Internal Server Error")
            to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
            if not ADDRESS.match(to):
                return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            if not sender and not form.get("MessagingServiceSid"):
                return self._error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
            if to.removeprefix("whatsapp:") in MAGIC_NUMBERS:
                code, message = MAGIC_NUMBERS[to.removeprefix("whatsapp:")]
                return self._error(400, code, message)
            if not body:
                return self._error(400, 21602, "Message body is required.")
            segments = message_segments(body)
            wait = twilio.bucket.take(segments) if twilio.bucket else 0.0
            if wait > 0:
                twilio.record({"throttled": {"to": to, "body": body, "segments": segments}})
                retry_after = str(max(1, math.ceil(wait)))
                return self._error(429, 20429, "Too Many Requests", {"Retry-After": retry_after})
            now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            sid = "SM" + uuid.uuid4().hex
            message = {
                "sid": sid,
                "account_sid": twilio.account,
                "to": to,
                "from": sender,
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": body,
                "status": "queued",
                "num_segments": str(segments),
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "error_code": None,
                "error_message": None,
                "price": None,
                "uri": f"/2010-04-01/Accounts/{twilio.account}/Messages/{sid}.json",
            }
            twilio.record({"accepted": {"sid": sid, "to": to, "body": body, "segments": segments}})
            callback = form.get("StatusCallback")
            if callback and twilio.receipts_first:
                twilio.post_receipts(callback, message)
            time.sleep(twilio.answer_delay)
            self._answer(201, message)
            if callback and not twilio.receipts_first:
                threading.Thread(target=twilio.post_receipts, args=(callback, message)).start()
            return None

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--receipts-first", action="store_true")
    parser.add_argument("--answer-delay", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=Rate.parse, default=None)
    args = parser.parse_args()
    twilio = FakeTwilio(
        account=args.account,
        token=args.token,
        out=args.out,
        fail_first=args.fail_first,
        receipts_first=args.receipts_first,
        answer_delay=args.answer_delay,
        rate=args.rate_limit,
    )
    serve_until_stopped(args.port, _handler(twilio), "fake Twilio")


if __name__ == "__main__":
    main()

"""A real SMTP server process (aiosmtpd) that keeps what it receives: one JSON line per message in a
file, so a test can count emails per Message-ID as a recipient's mail server would see them.

    python -m tests.peers.smtp_sink --port 2525 --out var/test-logs/smtp.jsonl [--delay-ms 20]
        [--tls-cert cert.pem --tls-key key.pem]   # offer STARTTLS (and require it)
        [--auth user:password]                    # require AUTH (PLAIN/LOGIN) with these credentials
        [--rate-limit 20/s --refusals refused.jsonl]  # cap the rate as SES does, keep what it refused

`--delay-ms` makes each DATA take that long, like a slow server, so that a worker killed mid-stream
is killed with sends in flight. Runs until SIGTERM/SIGINT.

`--rate-limit` caps the messages accepted, all connections together, with a token bucket of one
second's worth refilled continuously; a message above it is answered as SES answers,
`454 4.7.0 Throttling failure: Maximum sending rate exceeded.`, is not kept, and is one JSON line in
`--refusals`. The answer comes at the end of DATA, where SES gives it: the message counts against
the rate only once it is whole, the refusal can name its Message-ID, and a client sees it as a reply
to the message (smtplib's SMTPDataError) rather than as a refused recipient.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import threading
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from delivery.rates import Rate
from delivery.token_bucket import TokenBucket

THROTTLED = "454 4.7.0 Throttling failure: Maximum sending rate exceeded."


class Keeper:
    """aiosmtpd handler: appends each message to the output file, flushed before answering 250 (or,
    above the rate, the refusal to the refusals file before answering 454)."""

    def __init__(self, out: Path, delay_ms: float, rate: Rate | None = None, refusals: Path | None = None) -> None:
        self.out = out.open("a", encoding="utf-8")
        self.delay = delay_ms / 1000
        self.lock = threading.Lock()
        self.bucket = TokenBucket(rate.per_second) if rate else None
        self.refusals = refusals.open("a", encoding="utf-8") if refusals else None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = message_from_bytes(content, policy=default_policy)
        parts = [
            {"type": part.get_content_type(), "content": part.get_content()}
            for part in message.walk()
            if not part.is_multipart()
        ]
        line = {
            "message_id": message.get("Message-ID", ""),
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": message.get("Subject", ""),
            "headers": {name: str(value) for name, value in message.items()},
            "parts": parts,
            "tls": session.ssl is not None,
            "authenticated_as": session.auth_data.decode() if isinstance(session.auth_data, bytes) else None,
            "received_at": time.time(),  # when the server had it: what a recipient's latency ends at
        }
        if self.bucket is not None and self.bucket.take() > 0:
            self._keep(self.refusals, {"message_id": line["message_id"], "to": line["to"], "answer": THROTTLED})
            return THROTTLED
        self._keep(self.out, line)
        return "250 Message accepted for delivery"

    def _keep(self, out: Any, line: dict[str, Any]) -> None:
        with self.lock:
            out.write(json.dumps(line) + "\n")
            out.flush()


def _authenticator(expected: str) -> Any:
    user, _, password = expected.partition(":")

    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        good = isinstance(data, LoginPassword) and (data.login, data.password) == (user.encode(), password.encode())
        return AuthResult(success=good, auth_data=data.login if good else None)

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--tls-cert", default=None)
    parser.add_argument("--tls-key", default=None)
    parser.add_argument("--auth", default=None)
    parser.add_argument("--rate-limit", type=Rate.parse, default=None)
    parser.add_argument("--refusals", type=Path, default=None)
    args = parser.parse_args()
    if args.rate_limit and not args.refusals:
        parser.error("--rate-limit needs --refusals (where the refused messages are counted)")
    kwargs: dict[str, Any] = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        kwargs = {"tls_context": context, "require_starttls": True}
    if args.auth:
        kwargs |= {
            "authenticator": _authenticator(args.auth),
            "auth_required": True,
            "auth_require_tls": bool(args.tls_cert),
        }
    controller = Controller(
        Keeper(args.out, args.delay_ms, args.rate_limit, args.refusals), hostname="127.0.0.1", port=args.port, **kwargs
    )
    controller.start()
    print(f"smtp sink listening on 127.0.0.1:{args.port}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()

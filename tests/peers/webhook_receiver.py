"""A client's webhook receiver, as a separate process: verifies each request with the Standard
Webhooks library and the endpoint's secret, and keeps one JSON line per request it answered.

    python -m tests.peers.webhook_receiver --port 8090 --secret whsec_… --out hooks.jsonl [--fail-first N]

`--fail-first N` answers the first N requests 500 (a receiver having a bad minute); a request whose
signature does not verify is answered 401 and recorded as such.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.peers.http_peer import serve_until_stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    out = args.out.open("a", encoding="utf-8")
    lock = threading.Lock()
    failures_left = [args.fail_first]
    verifier = Webhook(args.secret)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *log_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                payload = verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError:
                payload, verified = None, False
            with lock:
                failing = verified and failures_left[0] > 0
                if failing:
                    failures_left[0] -= 1
                status = 401 if not verified else 500 if failing else 204
                line = {"webhook_id": headers.get("webhook-id"), "verified": verified, "status": status}
                out.write(json.dumps({**line, "payload": payload}) + "\n")
                out.flush()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    serve_until_stopped(args.port, Handler, "webhook receiver")


if __name__ == "__main__":
    main()

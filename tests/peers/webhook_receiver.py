"""A client's webhook receiver, as a separate process: verifies each request with the Standard
Webhooks library and the endpoint's secret, and keeps one JSON line per request it answered.

    python -m tests.peers.webhook_receiver --port 8090 --secret whsec_… --out hooks.jsonl [--fail-first N]
        [--fail-status 503] [--retry-after 2]

`--fail-first N` answers the first N requests `--fail-status` (500 unless told: a receiver having a bad
minute; 404, 410, a 3xx — with a `Location` — for a receiver that will never take them), with a
`Retry-After` header when given; a request whose signature does not verify is answered 401 and recorded
as such. Each line says when the request came (`at`, seconds since the epoch).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
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
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--retry-after", default=None)
    args = parser.parse_args()
    out = args.out.open("a", encoding="utf-8")
    lock = threading.Lock()
    failures_left = [args.fail_first]
    verifier = Webhook(args.secret)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *log_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            at = time.time()
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
                status = 401 if not verified else args.fail_status if failing else 204
                line = {"webhook_id": headers.get("webhook-id"), "verified": verified, "status": status, "at": at}
                out.write(json.dumps({**line, "payload": payload}) + "\n")
                out.flush()
            self.send_response(status)
            if failing and args.retry_after is not None:
                self.send_header("Retry-After", args.retry_after)
            if failing and 300 <= status < 400:
                self.send_header("Location", f"http://127.0.0.1:{args.port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

    serve_until_stopped(args.port, Handler, "webhook receiver")


if __name__ == "__main__":
    main()

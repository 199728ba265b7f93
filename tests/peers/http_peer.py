"""What the HTTP test peers (fake Twilio, the webhook receiver) share: serve until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve_until_stopped(port: int, handler: type[BaseHTTPRequestHandler], name: str) -> None:
    """Serve on 127.0.0.1:`port`, a thread per request; a signal shuts the server down cleanly."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"{name} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()

"""A real SMTP server process for tests (tests/peers/smtp_sink.py), started on a free port: plain, or
with STARTTLS (a certificate from a throwaway CA, `trustme`) and AUTH, as an SMTP provider would be."""

from __future__ import annotations

import json
import signal
import smtplib
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import trustme

from engines.process import free_port
from tests.processes import ManagedProcess, process_env, wait_for


class SmtpSink:
    """Keeps every email it receives (`received()`). With `tls`, `ca_file` is the CA to trust
    (SSL_CERT_FILE for the client process); with `auth`, "user:password" is required."""

    def __init__(self, folder: Path, *, delay_ms: str = "0", tls: bool = False, auth: str | None = None) -> None:
        self.port = free_port()
        self.out = folder / f"smtp-{self.port}.jsonl"
        self.out.touch()
        self.ca_file: Path | None = None
        argv = [sys.executable, "-m", "tests.peers.smtp_sink", "--port", str(self.port), "--out", str(self.out)]
        argv += ["--delay-ms", delay_ms]
        if tls:
            authority = trustme.CA()
            certificate = authority.issue_cert("127.0.0.1", "localhost")
            self.ca_file, cert_file = folder / "smtp-ca.pem", folder / "smtp-cert.pem"
            authority.cert_pem.write_to_path(str(self.ca_file))
            certificate.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
            argv += ["--tls-cert", str(cert_file), "--tls-key", str(cert_file)]
        if auth:
            argv += ["--auth", auth]
        self._argv = argv
        self.process = ManagedProcess(f"smtp-sink-{self.port}", argv, process_env())
        wait_for(self._answers, timeout=30, what="the SMTP server")

    def kill(self) -> None:
        """SIGKILL: connections drop mid-session, the port refuses until `restart()`."""
        self.process.stop(signal.SIGKILL, timeout=10)

    def restart(self) -> None:
        """The same server again on the same port, appending to the same file."""
        self.process = ManagedProcess(f"smtp-sink-{self.port}", self._argv, process_env())
        wait_for(self._answers, timeout=30, what="the SMTP server (restarted)")

    def _answers(self) -> bool:
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=2) as client:
                return client.noop()[0] == 250
        except OSError:
            return False

    def received(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def arrivals(self) -> Counter[str]:
        """message id → emails that arrived with it (from the Message-ID `<id@domain>`)."""
        return Counter(line["message_id"].strip("<>").split("@", 1)[0] for line in self.received())

    def stop(self) -> None:
        self.process.stop()

"""A real SMTP server process for tests (tests/peers/smtp_sink.py), started on a free port: plain, or
with STARTTLS (a certificate from a throwaway CA, `trustme`) and AUTH, as an SMTP provider would be;
optionally capped at a rate like SES (454 4.7.0 above it). It can be SIGKILLed (`kill()`) and started
again on the same port (`restart()`): what it received before is kept, as a provider keeps what it took.
"""

from __future__ import annotations

import signal
import smtplib
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import trustme

from engines.process import free_port
from tests.peers import written_lines
from tests.peers.restart import start_on_port
from tests.processes import ManagedProcess


class SmtpSink:
    """Keeps every email it receives (`received()`, `arrivals()`). With `tls`, `ca_file` is the CA to
    trust (SSL_CERT_FILE for the client process); with `auth`, "user:password" is required; with
    `rate_limit` ("20/s", "1200/min"), messages above it are refused with SES's 454 and counted
    (`refusals()`), never kept."""

    def __init__(
        self,
        folder: Path,
        *,
        delay_ms: str = "0",
        tls: bool = False,
        auth: str | None = None,
        rate_limit: str | None = None,
    ) -> None:
        self.port = free_port()
        # Files named by port, opened for appending by each process: a restart keeps what came before.
        self.out = folder / f"smtp-{self.port}.jsonl"
        self.out.touch()
        self.refusals_out = folder / f"smtp-{self.port}-refusals.jsonl"
        self.refusals_out.touch()
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
        if rate_limit:
            argv += ["--rate-limit", rate_limit, "--refusals", str(self.refusals_out)]
        self._argv = argv
        self.process: ManagedProcess = start_on_port(f"smtp-sink-{self.port}", argv, self._answers, "the SMTP server")

    def _answers(self) -> bool:
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=2) as client:
                return client.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def received(self) -> list[dict[str, Any]]:
        return written_lines(self.out)

    def arrivals(self) -> Counter[str]:
        """message id → emails that arrived with it (from the Message-ID `<id@domain>`)."""
        return Counter(_message_id(line) for line in self.received())

    def refusals(self) -> Counter[str]:
        """message id → times a send of it was refused for the rate (454); its total is all refusals."""
        return Counter(_message_id(line) for line in written_lines(self.refusals_out))

    def kill(self) -> None:
        """SIGKILL the server, as a crash would: connections drop mid-session, nothing is flushed."""
        self.process.stop(signal.SIGKILL)

    def restart(self) -> None:
        """Start the server again on the same port with the same options (after `kill()` or `stop()`;
        a running one is stopped first): its rate bucket starts full, what it received and refused is
        kept. Returns once it answers NOOP."""
        if self.process.popen.poll() is None:
            self.process.stop()
        self.process = start_on_port(f"smtp-sink-{self.port}", self._argv, self._answers, "the SMTP server")

    def stop(self) -> None:
        self.process.stop()


def _message_id(line: dict[str, Any]) -> str:
    return str(line["message_id"]).strip("<>").split("@", 1)[0]

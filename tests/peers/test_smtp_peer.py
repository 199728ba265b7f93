"""The local SMTP server as a provider that pushes back: a rate cap answered with SES's 454 4.7.0
(refused messages counted, never kept), and a SIGKILL followed by a restart on the same port that
keeps what arrived before."""

from __future__ import annotations

import smtplib
import time
import uuid
from email.message import EmailMessage

import pytest

from tests.peers.smtp import SmtpSink


def email(message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "no-reply@comms.local", "ada@example.com", "Hi"
    message["Message-ID"] = f"<{message_id}@comms.local>"
    message.set_content("Hello")
    return message


def send_all(port: int, ids: list[str]) -> dict[str, tuple[int, bytes] | None]:
    """Send each over one session as fast as it goes: id → the refusal (code, text), or None if taken."""
    answers: dict[str, tuple[int, bytes] | None] = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        for message_id in ids:
            try:
                client.send_message(email(message_id))
                answers[message_id] = None
            except smtplib.SMTPDataError as refusal:
                answers[message_id] = (refusal.smtp_code, refusal.smtp_error)
    return answers


def test_a_capped_server_refuses_the_messages_above_its_rate_as_ses_does(tmp_path):
    sink = SmtpSink(tmp_path, rate_limit="10/s")
    try:
        ids = [uuid.uuid4().hex for _ in range(40)]
        started = time.monotonic()
        answers = send_all(sink.port, ids)
        elapsed = time.monotonic() - started
    finally:
        sink.stop()
    taken = [message_id for message_id, answer in answers.items() if answer is None]
    refused = [message_id for message_id, answer in answers.items() if answer is not None]
    # One second's worth in the bucket, then 10 a second: what the burst's length allows, no more.
    assert 10 <= len(taken) <= 10 + 10 * elapsed + 1
    assert refused, "a burst far above the rate met no refusal"
    assert {answers[message_id] for message_id in refused} == {
        (454, b"4.7.0 Throttling failure: Maximum sending rate exceeded.")
    }
    assert sink.arrivals() == dict.fromkeys(taken, 1)
    assert sink.refusals() == dict.fromkeys(refused, 1)


def test_the_cap_is_shared_by_all_connections_and_refills_over_time(tmp_path):
    sink = SmtpSink(tmp_path, rate_limit="5/s")
    try:
        started = time.monotonic()
        first = send_all(sink.port, [uuid.uuid4().hex for _ in range(5)])
        second = send_all(sink.port, [uuid.uuid4().hex for _ in range(10)])  # a new connection, same bucket
        elapsed = time.monotonic() - started
        time.sleep(0.6)  # 3 tokens back
        third = send_all(sink.port, [uuid.uuid4().hex for _ in range(5)])
    finally:
        sink.stop()
    assert all(answer is None for answer in first.values())
    assert sum(answer is None for answer in second.values()) <= 5 * elapsed + 1
    assert sum(answer is None for answer in third.values()) >= 3
    assert sum(sink.refusals().values()) == 20 - sum(sink.arrivals().values()) > 0


def test_without_a_cap_nothing_is_refused(tmp_path):
    sink = SmtpSink(tmp_path)
    try:
        answers = send_all(sink.port, [uuid.uuid4().hex for _ in range(30)])
    finally:
        sink.stop()
    assert set(answers.values()) == {None}
    assert len(sink.arrivals()) == 30 and not sink.refusals()


def test_killed_and_restarted_on_the_same_port_with_what_arrived_kept(tmp_path):
    sink = SmtpSink(tmp_path, rate_limit="100/s")
    try:
        port, before = sink.port, uuid.uuid4().hex
        send_all(port, [before])
        sink.kill()
        assert sink.process.popen.returncode == -9
        with pytest.raises(OSError):
            smtplib.SMTP("127.0.0.1", port, timeout=2)
        sink.restart()
        after = uuid.uuid4().hex
        assert sink.port == port and send_all(port, [after]) == {after: None}
    finally:
        sink.stop()
    assert sink.arrivals() == {before: 1, after: 1}

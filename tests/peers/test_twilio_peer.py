"""The local Twilio server as a provider that pushes back, through the official twilio client: a
segment-rate cap answered 429 with error 20429 and a Retry-After (refusals counted, never accepted),
and a SIGKILL followed by a restart on the same port that keeps its record."""

from __future__ import annotations

import time

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from delivery.twilio import BaseUrlHttpClient
from tests.peers.twilio import ACCOUNT, TOKEN, FakeTwilioServer

SENDER = "+15005550006"


def client_for(server: FakeTwilioServer) -> tuple[Client, BaseUrlHttpClient]:
    http = BaseUrlHttpClient(base_url=server.url, timeout=10)
    return Client(ACCOUNT, TOKEN, http_client=http), http


def send_all(server: FakeTwilioServer, bodies: list[str]) -> list[tuple[int, str | None] | None]:
    """Each body to its own number, as fast as it goes: None if accepted, else (error code, Retry-After)."""
    client, http = client_for(server)
    answers: list[tuple[int, str | None] | None] = []
    for n, body in enumerate(bodies):
        try:
            client.messages.create(to=f"+1555010{n:04d}", from_=SENDER, body=body)
            answers.append(None)
        except TwilioRestException as error:
            assert error.status == 429
            answers.append((error.code, http.last_response.headers.get("Retry-After")))
    return answers


def test_a_capped_server_refuses_sends_above_its_segment_rate_with_20429_and_retry_after(tmp_path):
    server = FakeTwilioServer(tmp_path, rate_limit="5/s")
    try:
        started = time.monotonic()
        answers = send_all(server, ["one segment"] * 30)
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    taken = sum(answer is None for answer in answers)
    assert 5 <= taken <= 5 + 5 * elapsed + 1
    assert {answer for answer in answers if answer is not None} == {(20429, "1")}
    assert len(server.accepted()) == taken and len(server.refusals()) == 30 - taken


def test_the_rate_counts_segments(tmp_path):
    server = FakeTwilioServer(tmp_path, rate_limit="1/s")
    try:
        # Three segments at one a second: taken with a full bucket, which it leaves 2 s in debt.
        answers = send_all(server, ["a" * 320, "short"])
    finally:
        server.stop()
    assert answers[0] is None
    assert answers[1] is not None and answers[1][0] == 20429 and int(answers[1][1] or 0) >= 2
    assert [(sent["body"], sent["segments"]) for sent in server.accepted()] == [("a" * 320, 3)]
    assert [(refused["body"], refused["segments"]) for refused in server.refusals()] == [("short", 1)]


def test_killed_and_restarted_on_the_same_port_with_its_record_kept(tmp_path):
    server = FakeTwilioServer(tmp_path)
    try:
        url = server.url
        assert send_all(server, ["before"]) == [None]
        server.kill()
        assert server.process.popen.returncode == -9
        client, _ = client_for(server)
        with pytest.raises(OSError):  # requests' ConnectionError: nothing listens any more
            client.messages.create(to="+15550100000", from_=SENDER, body="while down")
        server.restart()
        assert server.url == url
        assert send_all(server, ["after"]) == [None]
    finally:
        server.stop()
    assert [sent["body"] for sent in server.accepted()] == ["before", "after"]

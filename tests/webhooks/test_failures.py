"""Failures sorted into kinds before anything is decided (webhooks.failures): the kinds themselves,
then on a real worker and real receiver processes — a receiver that says no (404, 410, a redirect) is
posted to once and the job dead-lettered with the reason; one that asks for time (503 with
`Retry-After: 2`) gets its retry no sooner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from requests_hardened.ip_filter import InvalidIPAddress

from delivery.retry_policy import RetryPolicy
from engines.process import free_ports
from tests.delivery.support import CHANNEL_DBS, own_run_topics
from tests.peers.webhooks import WebhookReceiver
from tests.processes import manage_py, wait_for
from tests.webhooks.support import api_client, dead_letters, endpoint_at, publish_job, worker_log_events
from webhooks.failures import (
    FailureKind,
    PostFailure,
    failure_of_exception,
    failure_of_response,
    retry_delay,
)

NOW = datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)


def _response(status: int, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return response


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, None),
        (204, None),
        (408, FailureKind.TRANSIENT),
        (429, FailureKind.TRANSIENT),
        (500, FailureKind.TRANSIENT),
        (503, FailureKind.TRANSIENT),
        (301, FailureKind.PERMANENT),
        (302, FailureKind.PERMANENT),
        (400, FailureKind.PERMANENT),
        (401, FailureKind.PERMANENT),
        (404, FailureKind.PERMANENT),
        (410, FailureKind.PERMANENT),
        (413, FailureKind.PERMANENT),
    ],
)
def test_a_status_is_a_kind_of_failure(status, kind):
    failure = failure_of_response(_response(status))
    assert (failure.kind if failure else None) == kind
    if failure is not None:
        assert failure.reason.startswith(f"HTTP {status}")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (requests.ConnectTimeout("slow"), FailureKind.TRANSIENT),
        (requests.ReadTimeout("slower"), FailureKind.TRANSIENT),
        (requests.ConnectionError("refused"), FailureKind.TRANSIENT),
        (InvalidIPAddress("127.0.0.1"), FailureKind.PERMANENT),
        (requests.exceptions.InvalidURL("no host"), FailureKind.PERMANENT),
    ],
)
def test_an_exception_is_a_kind_of_failure(error, kind):
    failure = failure_of_exception(error)
    assert failure.kind == kind and failure.reason.startswith(type(error).__name__)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("Tue, 01 Dec 2026 00:00:30 GMT", 30.0),
        ("Tuesday, 01-Dec-26 00:01:00 GMT", 60.0),  # RFC 850
        ("Mon, 30 Nov 2026 23:00:00 GMT", 0.0),  # already past
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value, seconds):
    headers = {} if value is None else {"Retry-After": value}
    for status in (429, 503):
        failure = failure_of_response(_response(status, **headers), now=NOW)
        assert failure is not None and failure.retry_after == seconds


def test_a_receivers_retry_after_lengthens_the_delay_but_never_past_the_longest():
    policy = RetryPolicy(max_attempts=4, delays=(1.0, 10.0, 60.0), jitter=0.0)
    asks = lambda seconds: PostFailure(FailureKind.TRANSIENT, "HTTP 503", retry_after=seconds)  # noqa: E731
    assert retry_delay(asks(None), policy=policy, attempt=1) == 1.0
    assert retry_delay(asks(0.5), policy=policy, attempt=1) == 1.0  # never sooner than the policy
    assert retry_delay(asks(30.0), policy=policy, attempt=1) == 30.0
    assert retry_delay(asks(86_400.0), policy=policy, attempt=1) == 60.0  # a day: bounded


FAST = {"WEBHOOKS_RETRY_DELAYS": "0.2s,0.4s,0.6s", "WEBHOOKS_MAX_ATTEMPTS": "4"}


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_a_receiver_that_says_no_is_posted_to_once_and_the_job_dead_lettered_with_why(tmp_path, settings):
    env = own_run_topics(settings, "webhookno")
    api = api_client()
    statuses = (404, 410, 302)
    receivers, endpoints = [], []
    try:
        for status, port in zip(statuses, free_ports(len(statuses)), strict=True):
            endpoint = endpoint_at(api, port)
            endpoints.append(endpoint["id"])
            receivers.append(
                WebhookReceiver(
                    tmp_path, port, endpoint["secret"], fail_first=WebhookReceiver.ALWAYS, fail_status=status
                )
            )
        with manage_py("webhooks", "consume", "webhooks", **FAST, **env):
            for endpoint_id in endpoints:
                publish_job(endpoint_id)
            wait_for(lambda: all(dead_letters(e) for e in endpoints), timeout=60, what="each job's dead letter")
            wait_for(
                lambda: all(worker_log_events("webhook.failed", e) for e in endpoints), timeout=30, what="the logs"
            )
    finally:
        for receiver in receivers:
            receiver.process.stop()

    for status, endpoint_id, receiver in zip(statuses, endpoints, receivers, strict=True):
        assert [r["status"] for r in receiver.requests()] == [status], "one attempt only"
        ((info, job),) = dead_letters(endpoint_id)
        assert (info.error_type, info.attempts, job["attempt"]) == ("WebhookRejected", 1, 1)
        assert info.error_message.startswith(f"HTTP {status}") and "permanent, not retried" in info.error_message
        (event,) = worker_log_events("webhook.failed", endpoint_id)
        assert event["labels"]["failure_kind"] == "permanent"
        assert event["error"]["message"].startswith(f"HTTP {status}"), event
        assert "dead-lettered: permanent, not retried" in event["message"]
    assert "never followed" in dead_letters(endpoints[2])[0][0].error_message


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_a_503_with_retry_after_is_retried_no_sooner_than_asked(tmp_path, settings):
    env = own_run_topics(settings, "webhookwait")
    port = free_ports(1)[0]
    api = api_client()
    endpoint = endpoint_at(api, port)
    receiver = WebhookReceiver(tmp_path, port, endpoint["secret"], fail_first=1, fail_status=503, retry_after="2")
    # The first retry level waits 0.2 s: a retry 2 s later is the receiver's wish, and the cap (the
    # longest delay, 5 s) leaves room for it.
    slow_second = {"WEBHOOKS_RETRY_DELAYS": "0.2s,5s", "WEBHOOKS_MAX_ATTEMPTS": "3"}
    try:
        with manage_py("webhooks", "consume", "webhooks", **slow_second, **env):
            publish_job(endpoint["id"])
            wait_for(lambda: len(receiver.requests()) >= 2, timeout=60, what="the retry")
    finally:
        receiver.process.stop()
    first, second = receiver.requests()[:2]
    assert (first["status"], second["status"]) == (503, 204)
    assert second["at"] - first["at"] >= 2.0, second["at"] - first["at"]

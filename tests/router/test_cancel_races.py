"""Cancel racing the worker, on the real engines with a real `consume sms` process: whichever of the
cancel and the worker's claim commits first wins. A 200 means the provider never gets the message
(no call in its call log, ever); a 409 means it was already handed over (and it is then sent)."""

from __future__ import annotations

import time

import pytest

from delivery.models import DeliveryStatus
from messaging.channels import Channel
from messaging.groups import consumer_group
from messaging.topics import retry_topic, send_topic
from tests.delivery.support import (
    CHANNEL_DBS,
    own_run_topics,
    provider_calls,
    records,
    sends,
    wait_for_status,
    worker,
)
from tests.processes import group_caught_up, wait_for
from tests.router.factories import SmsRequestFactory

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)

SMS = Channel.SMS


@pytest.fixture
def own_topics(settings) -> dict[str, str]:
    return own_run_topics(settings, "cancel")


def _assigned(process) -> None:
    wait_for(lambda: "assigned ['" in process.output(), timeout=60, what="the sms worker's partitions")


def _judge(api, ids: list[str], answers: dict[str, int], topics: list[str]) -> tuple[list[str], list[str]]:
    canceled = [message_id for message_id in ids if answers[message_id] == 200]
    refused = [message_id for message_id in ids if answers[message_id] == 409]
    assert len(canceled) + len(refused) == len(ids), answers
    wait_for_status(SMS, refused, DeliveryStatus.SENT, timeout=60)
    # Every record of the canceled ones has reached the worker (and been skipped) by now.
    wait_for(lambda: group_caught_up(consumer_group("sms_service"), topics), timeout=60, what="the worker to catch up")
    for message_id in canceled:
        assert sends(SMS, [message_id]) == [], f"{message_id} was canceled (200) and still sent"
        assert api.get(f"/api/v1/messages/{message_id}").json()["status"] == "canceled"
    assert {r.status for r in records(SMS, canceled)} <= {DeliveryStatus.CANCELED}
    for message_id in refused:
        assert len(sends(SMS, [message_id])) == 1
    return canceled, refused


def test_cancel_racing_the_first_delivery(api, own_topics):
    # Two sends at a time, 100 ms each: the worker works through the batch while the cancels arrive.
    with worker(SMS, SMS_MAX_IN_FLIGHT="2", SMS_SIMULATOR_LATENCY_MS="100", **own_topics) as process:
        _assigned(process)
        batch = {"messages": [SmsRequestFactory() for _ in range(30)]}
        response = api.post("/api/v1/messages/batch", batch, format="json")
        assert response.status_code == 202, response.json()
        ids = [result["id"] for result in response.json()["results"]]
        answers = {}
        # One cancel every 0.1 s: the worker picks the batch up, claims it and sends it somewhere
        # along the way, so the early cancels come before its claim and the late ones after.
        for message_id in ids:
            answers[message_id] = api.post(f"/api/v1/messages/{message_id}/cancel").status_code
            time.sleep(0.1)
        canceled, refused = _judge(api, ids, answers, [send_topic(SMS)])
    # Both sides of the race were run (else the test proved nothing).
    assert canceled and refused, answers


def test_cancel_racing_a_retry(api, own_topics):
    with worker(SMS, SMS_RETRY_DELAYS="1s,1s,1s", SMS_SIMULATOR_LATENCY_MS="0", **own_topics) as process:
        _assigned(process)
        batch = {"messages": [SmsRequestFactory(metadata={"simulate": {"failTimes": 1}}) for _ in range(12)]}
        ids = [result["id"] for result in api.post("/api/v1/messages/batch", batch, format="json").json()["results"]]
        wait_for(
            lambda: (
                all(r.status == DeliveryStatus.PENDING and r.current_attempt == 1 for r in records(SMS, ids))
                and len(records(SMS, ids)) == len(ids)
            ),
            timeout=30,
            what="every message's first attempt to fail (retrying)",
        )
        answers = {}
        for message_id in ids:  # spread over the retry's due time: early ones win, late ones are sent
            answers[message_id] = api.post(f"/api/v1/messages/{message_id}/cancel").status_code
            time.sleep(0.15)
        canceled, refused = _judge(api, ids, answers, [send_topic(SMS), retry_topic(SMS, 1)])
    for message_id in canceled:  # the one failed call, and never the retry
        assert [call.attempt for call in provider_calls(SMS, [message_id])] == [1]
    assert canceled and refused, answers

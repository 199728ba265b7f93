"""Scheduled messages are durable: accepted through the live API, then the relay is SIGKILLed and Kafka
stopped across their sendAt. Once both are back, every one is sent exactly once, none before its
sendAt, and the one canceled meanwhile never."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from delivery.models import DeliveryStatus
from engines import kafka as kafka_engine
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, provider_calls, records, sends, wait_for_status
from tests.faults.system import fault_system
from tests.faults.verdict import Verdict, publish_verdict

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]

SMS = Channel.SMS
AHEAD_SECONDS = 6


def _post(api_url: str, api_key: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        api_url + path,
        data=orjson.dumps(body) if body is not None else b"",
        headers={"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


def test_scheduled_messages_survive_a_relay_kill_and_a_kafka_restart(api_key, private_kafka):
    layout = private_kafka
    with fault_system("scheduled", kafka=layout.kafka_bootstrap) as system:
        system.start_api()
        relay = system.start_relay()
        system.start_worker(SMS)
        system.wait_assigned(system.workers[SMS][-1])

        send_at = (datetime.now(UTC) + timedelta(seconds=AHEAD_SECONDS)).isoformat().replace("+00:00", "Z")
        items = [{"channel": "sms", "to": "+14155552671", "body": f"later {n}", "sendAt": send_at} for n in range(20)]
        status, body = _post(system.api_url, api_key, "/api/v1/messages/batch", {"messages": items})
        assert status == 202, body
        ids = [result["id"] for result in body["results"]]
        assert {result["status"] for result in body["results"]} == {"scheduled"}
        canceled, ids = ids[0], ids[1:]
        assert _post(system.api_url, api_key, f"/api/v1/messages/{canceled}/cancel")[0] == 200

        time.sleep(2)  # relay, broker and worker all up: nothing goes out before its time
        assert records(SMS, ids) == []
        system.kill(relay)
        kafka_engine.stop(layout)
        time.sleep(AHEAD_SECONDS)  # every sendAt passes with no relay and no broker
        kafka_engine.start(layout)
        system.start_relay()
        back = time.time()

        wait_for_status(SMS, ids, DeliveryStatus.SENT, timeout=120)
        verdict = Verdict("scheduled-restarts", messages=len(ids) + 1, recover_seconds=time.time() - back)
        due = datetime.fromisoformat(send_at)
        calls = {message_id: sends(SMS, [message_id]) for message_id in ids}
        verdict.duplicated = sum(1 for found in calls.values() if len(found) > 1)
        early = sum(1 for found in calls.values() if any(call.called_at < due for call in found))
        verdict.notes.append(
            f"{len(ids)} due while the relay and Kafka were down, {early} sent before its sendAt; "
            f"1 canceled, provider calls {len(provider_calls(SMS, [canceled]))}"
        )
    publish_verdict(verdict)
    for message_id in ids:
        (call,) = calls[message_id]
        assert call.called_at >= due, "sent before its sendAt"
    assert provider_calls(SMS, [canceled]) == []
    assert [record.status for record in records(SMS, [canceled])] == [DeliveryStatus.CANCELED]

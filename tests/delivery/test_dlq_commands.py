"""`dlq list` / `dlq replay` and `delivery_stats`: an outage dead-letters a message, replay delivers it."""

import io

import orjson
import pytest
from django.core.management import call_command

from delivery.models import DeliveryStatus
from messaging.channels import Channel
from messaging.topics import delivery_log_topic
from tests.delivery.support import (
    CHANNEL_DBS,
    actions,
    log_events,
    make_envelope,
    publish_envelopes,
    records,
    sends,
    wait_for_status,
    worker,
)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_replay_after_a_provider_outage_sends_with_the_original_trace_id():
    channel = Channel.WHATSAPP
    lost, also_lost = make_envelope(channel), make_envelope(channel)
    # Every send fails while the "provider" is down; two attempts, then the DLQ.
    outage = {"WHATSAPP_SIMULATOR_FAILURE_RATE": "1.0", "WHATSAPP_MAX_ATTEMPTS": "2", "WHATSAPP_RETRY_DELAYS": "0.2s"}
    with worker(channel, **outage) as process:
        publish_envelopes([lost, also_lost])
        wait_for_status(channel, [lost.id, also_lost.id], DeliveryStatus.FAILED)
        assert process.stop() == 0, process.output()

    listing = run("dlq", "list", "whatsapp")
    assert str(lost.id) in listing and "attempts=2" in listing and "TransientProviderError" in listing

    assert f"replayed {lost.id}" in run("dlq", "replay", "whatsapp", "--message-id", str(lost.id))
    (record,) = records(channel, [lost.id])
    assert record.status == DeliveryStatus.PENDING

    with worker(channel) as process:
        wait_for_status(channel, [lost.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()

    (sent,) = sends(channel, [lost.id])
    assert sent.trace_id == lost.trace_id
    assert sent.attempt == 1  # a fresh attempt count
    events = log_events(delivery_log_topic(channel), lost.id)
    assert actions(events)[-2:] == ["delivery.received", "delivery.sent"]
    assert {e["trace"]["id"] for e in events} == {lost.trace_id}
    (still_failed,) = records(channel, [also_lost.id])
    assert still_failed.status == DeliveryStatus.FAILED

    # Replaying again only picks what is still undelivered (by id: other tests' dead letters share the topic).
    assert "0 message(s) replayed" in run("dlq", "replay", "whatsapp", "--message-id", str(lost.id))
    assert f"replayed {also_lost.id}" in run("dlq", "replay", "whatsapp", "--message-id", str(also_lost.id))

    stats = orjson.loads(run("delivery_stats", "--channel", "whatsapp", "--json"))
    assert stats[0]["channel"] == "whatsapp"
    assert stats[0]["statuses"]["sent"] >= 1
    assert stats[0]["simulatorSends"] >= 1 and stats[0]["simulatorCalls"] > stats[0]["simulatorSends"]
    assert stats[0]["sentMoreThanOnce"] == []

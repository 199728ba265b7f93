"""`dlq list` / `dlq replay` and `delivery_stats`: an outage dead-letters a message, replay delivers it;
`dlq resolve --all` settles every message held as unknown."""

import io
import logging
from datetime import timedelta

import orjson
import pytest
from django.core.management import CommandError, call_command

from delivery.models import DeliveryStatus
from messaging.channels import Channel
from messaging.envelope import MessageEnvelope
from messaging.topics import delivery_log_topic, send_topic
from tests.delivery.support import (
    CHANNEL_DBS,
    actions,
    held,
    log_events,
    make_envelope,
    publish_envelopes,
    records,
    records_with_key,
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


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_resolve_all_settles_every_held_message_older_than_asked_as_one_would(caplog):
    channel = Channel.SMS
    old, older, recent = (held(channel, held_for=timedelta(minutes=m)) for m in (90, 180, 5))
    caplog.set_level(logging.INFO, logger="delivery.dlq")

    out = run("dlq", "resolve", "sms", "--all", "--older-than", "1h", "--as", "sent")
    assert "2 held message(s) resolved: sent" in out
    assert {r.message_id: r.status for r in records(channel, [old.id, older.id, recent.id])} == {
        old.id: DeliveryStatus.SENT,
        older.id: DeliveryStatus.SENT,
        recent.id: DeliveryStatus.UNKNOWN,
    }
    for envelope in (old, older):  # the event `dlq resolve --message-id` logs, with the message's trace
        (event,) = log_events(delivery_log_topic(channel), envelope.id)
        assert event["event"]["action"] == "delivery.sent" and event["trace"]["id"] == envelope.trace_id
        assert "resolved as sent by an operator" in event["message"]
        assert f"sms message {envelope.id} held as unknown: resolved as sent" in caplog.text

    out = run("dlq", "resolve", "sms", "--all", "--as", "resend")
    assert f"resolved {recent.id}: resend" in out and "1 held message(s) resolved: resend" in out
    (record,) = records(channel, [recent.id])
    assert record.status == DeliveryStatus.PENDING
    (republished,) = records_with_key(send_topic(channel), str(recent.id).encode())
    assert MessageEnvelope.from_json(republished.value()).attempt == 1
    with worker(channel) as process:
        wait_for_status(channel, [recent.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()
    assert "0 held message(s) resolved" in run("dlq", "resolve", "sms", "--all", "--as", "resend")

    with pytest.raises(CommandError, match="--older-than goes with --all"):
        run("dlq", "resolve", "sms", "--message-id", str(old.id), "--older-than", "1h", "--as", "sent")

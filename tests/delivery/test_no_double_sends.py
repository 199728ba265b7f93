"""Redelivery never sends a finished message again; a message whose worker died mid-send is resent
(at least once), held (at most once), or resent safely to an idempotent provider; SIGTERM finishes
what is in hand, so a graceful stop leaves nothing unknown and a restart sends nothing twice."""

import io
import signal

import pytest
from confluent_kafka import TopicPartition
from django.core.management import call_command

from delivery.models import CallOutcome, DeliveryStatus
from delivery.stats import channel_stats
from messaging.channels import Channel
from messaging.clients import build_consumer
from messaging.groups import consumer_group
from messaging.topics import delivery_log_topic, send_topic
from tests.delivery.support import (
    CHANNEL_DBS,
    actions,
    log_events,
    make_envelope,
    provider_calls,
    publish_envelopes,
    records,
    records_with_key,
    sends,
    spec,
    wait_for_status,
    worker,
)
from tests.processes import wait_for

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)


def rewind_group(channel: Channel, partition: int, offset: int) -> None:
    """Reset the (stopped) worker group's committed offset, as an operator would."""
    consumer = build_consumer(consumer_group(f"{channel}_service"), **{"enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(send_topic(channel), partition, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_redelivered_finished_messages_are_skipped_not_sent():
    channel = Channel.EMAIL
    delivered = make_envelope(channel)
    publish_envelopes([delivered])
    with worker(channel) as process:
        wait_for_status(channel, [delivered.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()
    (first_copy,) = records_with_key(send_topic(channel), delivered.key)

    # The group's offsets reset to before it, and the same envelope published again.
    rewind_group(channel, first_copy.partition(), first_copy.offset())
    publish_envelopes([delivered])
    with worker(channel) as process:
        wait_for(
            lambda: (
                actions(log_events(delivery_log_topic(channel), delivered.id)).count("delivery.duplicate_skipped") >= 2
            ),
            what="both redeliveries skipped",
        )
        assert process.stop() == 0, process.output()

    assert len(provider_calls(channel, [delivered.id])) == 1
    logged = actions(log_events(delivery_log_topic(channel), delivered.id))
    assert logged[:2] == ["delivery.received", "delivery.sent"]
    # Both copies may come in one batch: each is received, then each is skipped.
    assert sorted(logged[2:]) == ["delivery.duplicate_skipped"] * 2 + ["delivery.received"] * 2


def died_mid_send(channel: Channel, **worker_env: str):
    """A message whose worker claimed attempt 1, made the provider call, and died before writing the
    outcome: the record reads `sending`, the provider's call log has the send. Then a worker
    receives the record again."""
    envelope = make_envelope(channel)
    publish_envelopes([envelope])
    with worker(channel) as process:
        wait_for_status(channel, [envelope.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()
    s = spec(channel)
    s.record_model.objects.using(s.database).filter(message_id=envelope.id).update(status=DeliveryStatus.SENDING)
    publish_envelopes([envelope])
    return envelope


def test_resend_mode_sends_again_and_says_so():
    channel = Channel.SMS
    envelope = died_mid_send(channel)
    with worker(channel, SMS_ON_UNKNOWN_OUTCOME="resend") as process:
        wait_for_status(channel, [envelope.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()
    # At least once, and honest about it: the provider got it twice, and the log says why.
    assert len(sends(channel, [envelope.id])) == 2
    assert "delivery.unknown_outcome_resent" in actions(log_events(delivery_log_topic(channel), envelope.id))
    assert channel_stats(spec=spec(channel)).sent_more_than_once == [str(envelope.id)]


def test_hold_mode_sends_nothing_until_an_operator_settles_it():
    channel = Channel.SMS
    envelope = died_mid_send(channel)
    with worker(channel, SMS_ON_UNKNOWN_OUTCOME="hold") as process:
        wait_for_status(channel, [envelope.id], DeliveryStatus.UNKNOWN)
        assert process.stop() == 0, process.output()
    assert len(sends(channel, [envelope.id])) == 1
    assert "delivery.unknown_outcome_held" in actions(log_events(delivery_log_topic(channel), envelope.id))
    assert channel_stats(spec=spec(channel)).statuses["unknown"] >= 1

    out = io.StringIO()
    call_command("dlq", "resolve", "sms", "--message-id", str(envelope.id), "--as", "resend", stdout=out)
    with worker(channel, SMS_ON_UNKNOWN_OUTCOME="hold") as process:
        wait_for_status(channel, [envelope.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()
    assert len(sends(channel, [envelope.id])) == 2  # the operator asked for it


def test_an_idempotent_provider_is_always_resent_with_the_same_key_and_sends_nothing_twice():
    channel = Channel.WHATSAPP
    envelope = died_mid_send(channel)
    with worker(channel, WHATSAPP_ON_UNKNOWN_OUTCOME="hold", WHATSAPP_SIMULATOR_IDEMPOTENT="true") as process:
        wait_for_status(channel, [envelope.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()
    outcomes = [call.outcome for call in provider_calls(channel, [envelope.id])]
    assert outcomes == [CallOutcome.ACCEPTED, CallOutcome.DEDUPLICATED]


def test_sigterm_mid_stream_exits_0_leaves_nothing_unknown_and_a_restart_sends_nothing_twice():
    channel = Channel.WHATSAPP
    envelopes = [make_envelope(channel, simulate={"latencyMs": 150}) for _ in range(60)]
    ids = [e.id for e in envelopes]
    publish_envelopes(envelopes)

    def statuses() -> list[str]:
        return [r.status for r in records(channel, ids)]

    with worker(channel, WHATSAPP_BATCH_SIZE="4", WHATSAPP_ON_UNKNOWN_OUTCOME="hold") as process:
        wait_for(lambda: statuses().count(DeliveryStatus.SENT) >= 8, what="a few sends")
        process.send_signal(signal.SIGTERM)
        assert process.popen.wait(timeout=30) == 0, process.output()
        assert "stopped cleanly" in process.output()
    after_stop = statuses()
    assert after_stop.count(DeliveryStatus.SENT) < len(envelopes), "stopped too late to prove anything"
    # The batch in hand was finished: no claim is left open.
    assert DeliveryStatus.SENDING not in after_stop and DeliveryStatus.UNKNOWN not in after_stop

    with worker(channel, WHATSAPP_ON_UNKNOWN_OUTCOME="hold") as process:
        wait_for_status(channel, ids, DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()

    assert len(sends(channel, ids)) == len(envelopes) == len(provider_calls(channel, ids))
    assert channel_stats(spec=spec(channel)).sent_more_than_once == []

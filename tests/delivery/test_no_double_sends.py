"""Redelivery never sends twice; SIGTERM finishes in-flight work and a restart loses nothing."""

import signal

import pytest
from confluent_kafka import TopicPartition

from delivery.models import DeliveryStatus
from delivery.stats import channel_stats
from messaging.channels import Channel
from messaging.clients import build_consumer
from messaging.groups import consumer_group
from messaging.topics import delivery_log_topic, send_topic
from tests.delivery.support import (
    CHANNEL_DBS,
    actions,
    ledger_rows,
    log_events,
    make_envelope,
    publish_envelopes,
    records,
    records_with_key,
    spec,
    wait_for_status,
    worker,
)
from tests.processes import wait_for


def rewind_group(channel: Channel, partition: int, offset: int) -> None:
    """Reset the (stopped) worker group's committed offset, as an operator would."""
    consumer = build_consumer(consumer_group(f"{channel}_service"), **{"enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(send_topic(channel), partition, offset)], asynchronous=False)
    finally:
        consumer.close()


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_redelivered_messages_are_not_sent_twice():
    channel = Channel.EMAIL
    delivered = make_envelope(channel)
    crashed = make_envelope(channel)
    publish_envelopes([delivered, crashed])
    with worker(channel) as process:
        wait_for_status(channel, [delivered.id, crashed.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()
    (first_copy,) = records_with_key(send_topic(channel), delivered.key)
    (crashed_record,) = records(channel, [crashed.id])
    provider_message_id = crashed_record.provider_message_id

    # 1) the group's offsets are reset to before `delivered`, and 2) the same envelope is
    # published again; 3) `crashed` looks like the worker died after the provider call but
    # before writing `sent`: the provider's idempotency key has to catch it.
    rewind_group(channel, first_copy.partition(), first_copy.offset())
    s = spec(channel)
    s.record_model.objects.using(s.database).filter(message_id=crashed.id).update(status=DeliveryStatus.PENDING)
    publish_envelopes([delivered, crashed])

    with worker(channel) as process:
        wait_for(
            lambda: (
                actions(log_events(delivery_log_topic(channel), delivered.id)).count("delivery.duplicate_skipped") >= 2
            ),
            what="both redeliveries skipped",
        )
        wait_for_status(channel, [crashed.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()

    assert len(ledger_rows(channel, [delivered.id])) == 1
    assert len(ledger_rows(channel, [crashed.id])) == 1
    (crashed_record,) = records(channel, [crashed.id])
    assert crashed_record.provider_message_id == provider_message_id
    assert actions(log_events(delivery_log_topic(channel), delivered.id)) == [
        "delivery.received",
        "delivery.sent",
        "delivery.received",
        "delivery.duplicate_skipped",
        "delivery.received",
        "delivery.duplicate_skipped",
    ]


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_sigterm_mid_stream_exits_0_and_a_restart_finishes_without_loss_or_double_send():
    channel = Channel.WHATSAPP
    envelopes = [make_envelope(channel, simulate={"latencyMs": 150}) for _ in range(60)]
    ids = [e.id for e in envelopes]
    publish_envelopes(envelopes)

    def sent_count() -> int:
        return sum(1 for r in records(channel, ids) if r.status == DeliveryStatus.SENT)

    with worker(channel, "--max-in-flight", "4") as process:
        wait_for(lambda: sent_count() >= 8, what="a few sends")
        process.send_signal(signal.SIGTERM)
        assert process.popen.wait(timeout=30) == 0, process.output()
        assert "stopped cleanly" in process.output()
    sent_before_restart = sent_count()
    assert sent_before_restart < len(envelopes), "stopped too late to prove anything"

    with worker(channel, "--max-in-flight", "16") as process:
        wait_for_status(channel, ids, DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()

    assert len(ledger_rows(channel, ids)) == len(envelopes)
    assert channel_stats(spec=spec(channel)).sent_more_than_once == []

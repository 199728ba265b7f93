"""A message per channel goes send.<channel> → sent: one ledger row, log events in order (real Kafka)."""

import pytest

from delivery.models import AttemptOutcome, DeliveryStatus
from messaging.channels import Channel
from messaging.masking import mask_recipient
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
from tests.processes import wait_for


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
@pytest.mark.parametrize("channel", list(Channel))
def test_message_is_sent_once_with_log_events_in_order(channel):
    envelope = make_envelope(channel)
    publish_envelopes([envelope])

    with worker(channel) as process:
        wait_for_status(channel, [envelope.id], DeliveryStatus.SENT)
        events = wait_for(
            lambda: (e := log_events(delivery_log_topic(channel), envelope.id)) and len(e) >= 2 and e,
            what="log events",
        )
        assert process.stop() == 0, process.output()

    (record,) = records(channel, [envelope.id])
    assert record.trace_id == envelope.trace_id
    assert record.attempt_count == 1
    assert record.sent_at is not None
    assert record.provider == "simulator"  # which of the channel's providers took it
    (attempt,) = record.attempts.all()
    assert (attempt.number, attempt.outcome) == (1, AttemptOutcome.SENT)
    (sent,) = sends(channel, [envelope.id])
    assert sent.provider_message_id == record.provider_message_id
    assert sent.recipient == envelope.to

    assert actions(events) == ["delivery.received", "delivery.sent"]
    for event in events:
        assert event["trace"] == {"id": envelope.trace_id}
        assert event["service"] == {"name": f"{channel}_service"}
        sent_by = {"provider": "simulator"} if event["event"]["action"] == "delivery.sent" else {}
        assert event["labels"] == {
            "message_id": str(envelope.id),
            "channel": channel.value,
            "attempt": 1,
            "recipient": mask_recipient(envelope.to),
            **sent_by,
        }
    assert events[1]["event"]["outcome"] == "success"
    assert events[1]["event"]["duration"] > 0

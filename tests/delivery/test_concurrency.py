"""One worker keeps many sends in flight: throughput approaches in-flight / latency, not 1 / latency."""

import pytest

from delivery.models import DeliveryStatus
from messaging.channels import Channel
from tests.delivery.support import (
    CHANNEL_DBS,
    make_envelope,
    publish_envelopes,
    records,
    sends,
    wait_for_status,
    worker,
)


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_200_messages_with_100ms_latency_finish_far_faster_than_one_at_a_time():
    channel = Channel.SMS
    envelopes = [make_envelope(channel, simulate={"latencyMs": 100}) for _ in range(200)]
    ids = [e.id for e in envelopes]

    with worker(channel) as process:
        publish_envelopes(envelopes)
        wait_for_status(channel, ids, DeliveryStatus.SENT, timeout=60)
        assert process.stop() == 0, process.output()

    rows = records(channel, ids)
    # The proof that does not depend on how busy the machine is: provider calls overlapped.
    assert max_overlap([a for r in rows for a in r.attempts.all()]) >= 8
    elapsed = (max(r.sent_at for r in rows) - min(r.created_at for r in rows)).total_seconds()
    # One at a time this takes at least 200 x 100 ms = 20 s.
    assert elapsed < 18, elapsed
    assert len(sends(channel, ids)) == 200


def max_overlap(attempts) -> int:
    """The most provider calls in flight at one moment, from each attempt's start and duration."""
    edges = []
    for attempt in attempts:
        start = attempt.started_at.timestamp()
        edges += [(start, 1), (start + attempt.duration_ms / 1000, -1)]
    in_flight = peak = 0
    for _, change in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        in_flight += change
        peak = max(peak, in_flight)
    return peak

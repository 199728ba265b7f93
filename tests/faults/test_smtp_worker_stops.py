"""The email worker stopped mid-send, again and again, while it delivers to a real SMTP server
process (aiosmtpd, tests/peers/smtp_sink.py) through Django's SMTP backend. Counted at the server,
per Message-ID, as a recipient's mail server sees it — no idempotency key anywhere to hide a resend.

The worker runs with its default batch size (200 records) and EMAIL_MAX_IN_FLIGHT=8: what a kill
can leave claimed-but-unrecorded is bounded by the provider calls in progress, not by the batch.

- SIGKILL, ON_UNKNOWN_OUTCOME=hold (at most once): no email arrives twice; at each kill at most
  MAX_IN_FLIGHT (plus a group commit's worth) messages are claimed and unfinished, so at most
  stops x MAX_IN_FLIGHT end `unknown` (SCALE.smtp_stops: 5).
- SIGKILL, resend (at least once): nothing is lost; extra emails at the server ≤ stops x MAX_IN_FLIGHT
  (FAULTS_SCALE=full only: tests/faults/test_worker_kill.py proves `resend` after kills on every run).
- SIGTERM: the batch in hand is finished, so nothing arrives twice and nothing is unknown
  (SCALE.smtp_graceful_stops: 2 at CI size, 5 at full size).
"""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from delivery.models import DeliveryStatus
from delivery.registry import get_channel
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, make_envelope, publish_envelopes
from tests.faults.scale import SCALE
from tests.faults.system import FaultSystem, fault_system
from tests.faults.traffic import Accepted
from tests.faults.verdict import judge, publish_verdict, wait_settled
from tests.peers.smtp import SmtpSink
from tests.processes import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]

EMAIL = Channel.EMAIL
# A slow server keeps sends in flight: 8 connections x ~100 ms an email (~80 emails/s), so the kills
# land mid-stream.
SMTP_DELAY_MS = "100"
MAX_IN_FLIGHT = 8


def with_status(ids: list[str], *statuses: str) -> set[str]:
    spec = get_channel(EMAIL)
    rows = spec.record_model.objects.using(spec.database).filter(message_id__in=ids, status__in=statuses)
    return {str(message_id) for message_id in rows.values_list("message_id", flat=True)}


FINAL = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN)


@pytest.mark.parametrize(
    ("mode", "signum"),
    [
        ("hold", signal.SIGKILL),
        # `resend` after a kill (nothing lost, extra sends bounded by those in flight) is proven on
        # every run by tests/faults/test_worker_kill.py, and a kill mid-send to this server by the
        # `hold` case: the real-SMTP repeat of it (~50 s) runs at FAULTS_SCALE=full.
        pytest.param(
            "resend",
            signal.SIGKILL,
            marks=pytest.mark.skipif(SCALE.name != "full", reason="on demand: FAULTS_SCALE=full"),
        ),
        ("resend", signal.SIGTERM),
    ],
    ids=["sigkill-hold", "sigkill-resend", "sigterm"],
)
def test_email_worker_stopped_mid_send_to_a_real_smtp_server(mode, signum, tmp_path):
    sink = SmtpSink(tmp_path, delay_ms=SMTP_DELAY_MS)
    name = f"smtp-{signal.Signals(signum).name.lower()}-{mode}"
    try:
        with fault_system(name) as system:
            system.env.update(
                {
                    "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
                    "EMAIL_ON_UNKNOWN_OUTCOME": mode,
                    "EMAIL_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
                }
            )
            verdict, in_flight, per_stop, extra = run_scenario(system, sink, name, signum)
    finally:
        sink.process.stop()
    publish_verdict(verdict)

    assert verdict.lost == 0, verdict.line()
    if signum == signal.SIGTERM:
        assert not in_flight, verdict.line()
        assert (verdict.duplicated, verdict.unknown) == (0, 0), verdict.line()
        return
    assert in_flight, f"no kill hit a send in flight: proves nothing ({verdict.line()})"
    bound = SCALE.smtp_stops * MAX_IN_FLIGHT
    # Claimed and unrecorded at a kill: the calls in progress, plus outcomes awaiting their write.
    assert max(per_stop) <= MAX_IN_FLIGHT, verdict.line()
    if mode == "hold":
        assert verdict.duplicated == 0, verdict.line()
        assert verdict.unknown <= bound, verdict.line()
    else:
        assert verdict.unknown == 0, verdict.line()
        assert extra <= bound, verdict.line()


def run_scenario(system: FaultSystem, sink: SmtpSink, name: str, signum: int):
    worker = system.start_worker(EMAIL)
    system.wait_assigned(worker)
    envelopes = [make_envelope(EMAIL) for _ in range(SCALE.smtp_messages)]
    ids = [str(envelope.id) for envelope in envelopes]
    publish_envelopes(envelopes)
    now = time.time()
    accepted = [Accepted(str(e.id), e.trace_id, EMAIL, now) for e in envelopes]

    # Messages claimed and unfinished right after each stop: the sends in flight when it came. A
    # message can be counted at two stops (not yet redelivered); the bound uses each once.
    in_flight: set[str] = set()
    per_stop: list[int] = []
    # A kill must find a send in flight at one stop at least (about one in three finds none): five
    # stops. SIGTERM needs no such luck (the batch in hand is finished whenever it comes).
    stops = SCALE.smtp_stops if signum == signal.SIGKILL else SCALE.smtp_graceful_stops
    step = len(envelopes) / (stops + 1)
    for n in range(1, stops + 1):
        # Triggered by what reaches the server, not by our own table's count, which moves only as
        # outcomes are written (a kill right after a write would find nothing in flight).
        wait_for(lambda n=n: sum(sink.arrivals().values()) >= n * step, timeout=120, what=f"{n * step:.0f} emails")
        code = worker.stop(signum, timeout=30)
        if signum == signal.SIGTERM:
            assert code == 0, worker.output()
        # Newly claimed: a message a previous kill left claimed may not be redelivered yet.
        claimed = with_status(ids, DeliveryStatus.SENDING) - in_flight
        per_stop.append(len(claimed))
        in_flight |= claimed
        worker = system.start_worker(EMAIL)
        system.wait_assigned(worker)
    last_stop = time.time()

    final, settled_at = wait_settled(accepted, final=FINAL, timeout=SCALE.settle_seconds)
    arrivals = sink.arrivals()
    verdict = judge(name, accepted, final, sends=Counter({message_id: arrivals[message_id] for message_id in ids}))
    verdict.recover_seconds = None if settled_at is None else max(0.0, settled_at - last_stop)
    held = [message_id for message_id in ids if final.get(message_id) == DeliveryStatus.UNKNOWN]
    verdict.notes.append(f"sends in flight at each stop {per_stop} ({len(in_flight)} messages)")
    extra = sum(count - 1 for count in arrivals.values() if count > 1)
    verdict.notes.append(f"emails at the SMTP server {sum(arrivals.values())} for {len(ids)} messages ({extra} extra)")
    verdict.notes.append(f"held as unknown {len(held)}, of which {sum(1 for i in held if arrivals[i])} had arrived")
    return verdict, in_flight, per_stop, extra

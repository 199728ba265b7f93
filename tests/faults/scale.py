"""How big the fault scenarios run: `FAULTS_SCALE=ci` (default, fast enough for every `bin/test`)
or `FAULTS_SCALE=full` (issue 7's sizes: 2,000 messages, a 30 s Kafka and a 60 s Elasticsearch outage)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultsScale:
    name: str
    messages: int  # per scenario, spread over the channels the scenario uses
    send_seconds: float  # traffic is paced over this long, so faults land mid-stream
    kafka_outage_seconds: float
    es_outage_seconds: float
    provider_outage_seconds: float
    worker_kills: int
    settle_seconds: float  # deadline for every message to reach its final state after the fault
    smtp_messages: int  # the real-SMTP scenarios: emails published, and the worker stopped this often
    smtp_stops: int
    smtp_graceful_stops: int  # SIGTERM stops of the same scenario
    throttled_messages: int  # low-priority emails by batch against a server taking 20/s (issue 23: 2,000)

    @classmethod
    def from_env(cls) -> FaultsScale:
        name = os.environ.get("FAULTS_SCALE", "ci")
        try:
            return SCALES[name]
        except KeyError:
            raise ValueError(f"FAULTS_SCALE={name!r}; expected one of {sorted(SCALES)}") from None


SCALES = {
    "ci": FaultsScale(
        name="ci",
        messages=150,
        send_seconds=8,
        kafka_outage_seconds=10,
        # Restarting Elasticsearch adds its start time (30-60 s on a busy 2-core machine) to the
        # downtime the indexer sees; the scenario prints the whole downtime.
        es_outage_seconds=10,
        provider_outage_seconds=6,
        worker_kills=3,
        settle_seconds=90,
        # Five stops, though each costs a worker's start (5-20 s): a stop finds no send in flight
        # about one time in three, and the scenario fails when none of them does.
        smtp_messages=500,
        smtp_stops=5,
        smtp_graceful_stops=2,
        throttled_messages=400,
    ),
    "full": FaultsScale(
        name="full",
        messages=2000,
        send_seconds=60,
        kafka_outage_seconds=30,
        es_outage_seconds=60,
        provider_outage_seconds=30,
        worker_kills=5,
        settle_seconds=300,
        smtp_messages=1000,
        smtp_stops=5,
        smtp_graceful_stops=5,
        throttled_messages=2000,
    ),
}

SCALE = FaultsScale.from_env()

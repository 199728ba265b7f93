"""Read-only delivery statistics per channel (a selector): record counts per status (`unknown` among
them: held after a worker died mid-send), the simulator's calls and sends, and any message id its
call log shows as sent more than once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from delivery.models import CallOutcome, DeliveryStatus
from delivery.registry import ChannelSpec


@dataclass(frozen=True)
class ChannelStats:
    channel: str
    statuses: dict[str, int]
    simulator_calls: int
    simulator_sends: int  # calls it accepted
    sent_more_than_once: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "statuses": self.statuses,
            "total": sum(self.statuses.values()),
            "simulatorCalls": self.simulator_calls,
            "simulatorSends": self.simulator_sends,
            "sentMoreThanOnce": self.sent_more_than_once,
        }


def channel_stats(*, spec: ChannelSpec) -> ChannelStats:
    records = spec.record_model.objects.using(spec.database)
    counts = {row["status"]: row["n"] for row in records.values("status").annotate(n=Count("id")).order_by()}
    calls = spec.ledger_model.objects.using(spec.database)
    sends = calls.filter(outcome=CallOutcome.ACCEPTED)
    duplicates = (
        sends.values("idempotency_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("idempotency_key")
        .values_list("idempotency_key", flat=True)
    )
    return ChannelStats(
        channel=spec.channel.value,
        statuses={status.value: counts.get(status.value, 0) for status in DeliveryStatus},
        simulator_calls=calls.count(),
        simulator_sends=sends.count(),
        sent_more_than_once=list(duplicates),
    )

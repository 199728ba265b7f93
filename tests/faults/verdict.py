"""After a scenario: every accepted message's final state in the router DB, the channel DBs, the
simulator ledgers and Elasticsearch; and the one summary line per scenario issue 7 asks for."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import orjson
from django.conf import settings
from django.db.models import Count
from elasticsearch import Elasticsearch

from delivery.models import CallOutcome, DeliveryStatus
from delivery.registry import get_channel
from logging_service.connection import client_options
from messaging.channels import Channel
from messaging.topics import delivery_log_topic, router_log_topic
from router.models import OutboxEntry
from tests.delivery.support import topic_records
from tests.faults.scale import SCALE
from tests.faults.traffic import Accepted
from tests.processes import LOG_DIR

SUMMARY_FILE = LOG_DIR / "faults-summary.txt"
FINAL = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN)
SUMMARY_LINES: list[str] = []  # shown again in the terminal summary (conftest)


@dataclass
class Verdict:
    scenario: str
    messages: int
    lost: int = 0
    duplicated: int = 0
    unknown: int = 0  # held after a worker died mid-send (ON_UNKNOWN_OUTCOME=hold)
    recover_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # other broken promises found on the way

    def line(self) -> str:
        recover = "n/a" if self.recover_seconds is None else f"{self.recover_seconds:.1f}s"
        remarks = self.notes + [f"PROBLEM: {problem}" for problem in self.problems]
        notes = f" ({'; '.join(remarks)})" if remarks else ""
        return (
            f"scenario={self.scenario}, messages={self.messages}, lost={self.lost}, "
            f"duplicated={self.duplicated}, unknown={self.unknown}, time to recover={recover}{notes}"
        )


def publish_verdict(verdict: Verdict) -> None:
    """Printed whatever pytest's capture mode: the terminal summary and a file under var/test-logs."""
    line = f"[faults {settings.TEST_RUN_ID}] {verdict.line()}"
    SUMMARY_LINES.append(line)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with SUMMARY_FILE.open("a") as summary:
        summary.write(line + "\n")


# --- channel databases and ledgers ----------------------------------------------------------------
def statuses(messages: Iterable[Accepted]) -> dict[str, str | None]:
    """message id → its delivery record's status in its channel's DB (None: no record at all)."""
    by_channel: dict[Channel, list[str]] = defaultdict(list)
    for message in messages:
        by_channel[message.channel].append(message.id)
    found: dict[str, str | None] = {}
    for channel, ids in by_channel.items():
        spec = get_channel(channel)
        rows = spec.record_model.objects.using(spec.database).filter(message_id__in=ids)
        known = {str(message_id): status for message_id, status in rows.values_list("message_id", "status")}
        found.update({message_id: known.get(message_id) for message_id in ids})
    return found


def wait_settled(
    messages: Sequence[Accepted], *, final: Collection[str] = (DeliveryStatus.SENT,), timeout: float
) -> tuple[dict[str, str | None], float | None]:
    """Poll until every message is in a `final` status; returns the statuses and the moment
    (time.time()) they all got there, or None if the deadline passed first."""
    deadline = time.monotonic() + timeout
    while True:
        current = statuses(messages)
        if all(status in final for status in current.values()):
            return current, time.time()
        if time.monotonic() > deadline:
            return current, None
        time.sleep(0.5)


def recovery_seconds(settled_at: float | None, fault_end: float, messages: Sequence[Accepted]) -> float | None:
    """From the end of the fault — or of the traffic, when it went on longer — until every message
    reached its final state; None if they never did."""
    if settled_at is None:
        return None
    last_accepted = max((message.accepted_at for message in messages), default=fault_end)
    return max(0.0, settled_at - max(fault_end, last_accepted))


def sends_per_message(messages: Iterable[Accepted]) -> Counter[str]:
    """How many calls of each message the simulated provider accepted, from its call log (the
    provider's own view: it deduplicates nothing unless told to, like SMTP or Twilio)."""
    by_channel: dict[Channel, list[str]] = defaultdict(list)
    for message in messages:
        by_channel[message.channel].append(message.id)
    counts: Counter[str] = Counter()
    for channel, ids in by_channel.items():
        spec = get_channel(channel)
        rows = spec.ledger_model.objects.using(spec.database).filter(
            idempotency_key__in=ids, outcome=CallOutcome.ACCEPTED
        )
        for row in rows.values("idempotency_key").annotate(n=Count("id")).order_by():
            counts[row["idempotency_key"]] = row["n"]
    return counts


def judge(
    scenario: str,
    messages: Sequence[Accepted],
    final: dict[str, str | None],
    sends: Counter[str] | None = None,
) -> Verdict:
    """lost: not in a final state (`unknown` is final: held for an operator), or `sent` with no send;
    duplicated: sent more than once. `sends` defaults to the simulated provider's call log."""
    sends = sends_per_message(messages) if sends is None else sends
    verdict = Verdict(scenario=scenario, messages=len(messages))
    for message in messages:
        status = final.get(message.id)
        if status not in FINAL:
            verdict.lost += 1
        elif status == DeliveryStatus.SENT and sends[message.id] == 0:
            verdict.lost += 1  # the record says sent, the provider never saw it
    verdict.duplicated = sum(1 for message in messages if sends[message.id] > 1)
    verdict.unknown = sum(1 for message in messages if final.get(message.id) == DeliveryStatus.UNKNOWN)
    return verdict


def unpublished_outbox(messages: Iterable[Accepted]) -> int:
    """Router side: messages whose outbox entry Kafka never acknowledged."""
    ids = [message.id for message in messages]
    return OutboxEntry.objects.filter(message_id__in=ids, published_at__isnull=True).count()


# --- log events: Kafka (what was emitted) against Elasticsearch (what was indexed) ------------------
def emitted_events(trace_ids: Collection[str]) -> dict[str, dict[str, str]]:
    """trace id → {event id: action} of the log events every service emitted for it (read from the
    logs.* topics)."""
    emitted: dict[str, dict[str, str]] = defaultdict(dict)
    for topic in [router_log_topic(), *(delivery_log_topic(channel) for channel in Channel)]:
        for record in topic_records(topic, timeout=60):
            try:
                event = orjson.loads(record.value())
                trace_id, event_id, action = event["trace"]["id"], event["event"]["id"], event["event"]["action"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # poison records planted by a scenario
            if trace_id in trace_ids:
                emitted[trace_id][event_id] = action
    return emitted


def indexed_events(client: Elasticsearch, trace_ids: Collection[str]) -> dict[str, list[str]]:
    """trace id → ids of its documents in the log indices (a list: an id twice would be a duplicate)."""
    pattern = f"{settings.LOG_INDEX_PREFIX}-*"
    client.indices.refresh(index=pattern, allow_no_indices=True, ignore_unavailable=True)
    indexed: dict[str, list[str]] = defaultdict(list)
    ordered = sorted(trace_ids)
    # A trace has a handful of events (≤ ~15 with retries), so 300 traces fit in one page.
    for start in range(0, len(ordered), 300):
        chunk = ordered[start : start + 300]
        body = client.search(
            index=pattern,
            query={"terms": {"trace.id": chunk}},
            size=10_000,
            source=["trace.id"],
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        hits = body["hits"]["hits"]
        assert len(hits) < 10_000, "page full: use smaller chunks"
        for hit in hits:
            indexed[hit["_source"]["trace"]["id"]].append(hit["_id"])
    return indexed


@dataclass(frozen=True)
class LogComparison:
    events: int
    missing: int  # emitted, not in ES
    duplicated: int  # in ES more than once
    traces_off: int  # traces whose ES count differs from the events emitted
    emitted: dict[str, dict[str, str]]  # trace id → {event id: action}

    def with_action(self, action: str, count: int = 1) -> int:
        """How many traces carry `action` at least `count` times."""
        return sum(1 for events in self.emitted.values() if list(events.values()).count(action) >= count)


def compare_logs(
    client: Elasticsearch, trace_ids: Collection[str], emitted: dict[str, dict[str, str]]
) -> LogComparison:
    indexed = indexed_events(client, trace_ids)
    missing = duplicated = traces_off = 0
    for trace_id in trace_ids:
        want, got = set(emitted.get(trace_id, {})), indexed.get(trace_id, [])
        missing += len(want - set(got))
        duplicated += len(got) - len(set(got))
        traces_off += len(got) != len(want)
    return LogComparison(sum(map(len, emitted.values())), missing, duplicated, traces_off, emitted)


def wait_logs_indexed(client: Elasticsearch, trace_ids: Collection[str], timeout: float) -> LogComparison:
    """Every emitted event of these traces in ES exactly once, waiting for the indexer to catch up."""
    emitted = emitted_events(trace_ids)
    deadline = time.monotonic() + timeout
    while True:
        comparison = compare_logs(client, trace_ids, emitted)
        if (comparison.missing == 0 and comparison.traces_off == 0) or time.monotonic() > deadline:
            return comparison
        time.sleep(1)


def timeline_mismatches(messages: Iterable[Accepted], final: dict[str, str | None]) -> int:
    """Messages whose timeline (the API's status, derived from their events in the shared ES)
    disagrees with their delivery record."""
    from logging_service.timeline import message_timeline

    return sum(
        1
        for message in messages
        if message_timeline(trace_id=message.trace_id, message_id=message.id).status.value != final.get(message.id)
    )


def settle_and_judge(
    scenario: str,
    messages: Sequence[Accepted],
    *,
    fault_end: float,
    final_statuses: Collection[str] = (DeliveryStatus.SENT,),
) -> tuple[Verdict, LogComparison]:
    """The common end of a scenario: wait until every message is in a final status (`sent` unless
    told), judge lost and duplicated, time the recovery from `fault_end`, and compare the log events
    and timelines."""
    final, settled_at = wait_settled(messages, final=final_statuses, timeout=SCALE.settle_seconds)
    verdict = judge(scenario, messages, final)
    verdict.recover_seconds = recovery_seconds(settled_at, fault_end, messages)
    return verdict, check_logs(verdict, messages, final)


def check_logs(verdict: Verdict, messages: Sequence[Accepted], final: dict[str, str | None]) -> LogComparison:
    """Every emitted event of these messages in the shared ES exactly once, and every timeline
    status equal to the record's; figures go into the verdict's notes, failures into its problems."""
    client = Elasticsearch(**client_options())
    logs = wait_logs_indexed(client, {message.trace_id for message in messages}, timeout=60)
    verdict.notes.append(f"log events {logs.events}, missing in ES {logs.missing}, twice {logs.duplicated}")
    mismatches = timeline_mismatches(messages, final)
    verdict.notes.append(f"timelines disagreeing with the DB {mismatches}")
    if logs.missing or logs.duplicated:
        verdict.problems.append("log events not in Elasticsearch exactly once")
    if mismatches:
        verdict.problems.append("timeline status differs from the delivery record")
    return logs

"""What a 202 waits for, in one protocol for every accept: one message or a batch, with or without an
Idempotency-Key. A request answers 202 once each of its messages is durable:

1. **committed**: its index row (router.Message: who sent it, for GET and the listing), and the
   outbox entry of a scheduled message (due at its sendAt; `relay_outbox` publishes it then). A
   database that cannot take them answers 503 and nothing has been sent. Without a key the rows of
   concurrent requests share one transaction (config.db_bulk.GroupInserter, a group commit). With a
   key the rows are committed with the key's record by the caller (router.accept.idempotency), and
   every message's outbox entry with them: a later request with the key is answered 202 from that
   record alone, so what it answers for must already be in the outbox, whatever Kafka does next.
2. **sent**: the record of each message due now goes to Kafka (acks=all, idempotent producer; the
   records of concurrent requests share the producer's batches), and the request waits up to
   ROUTER_PUBLISH_TIMEOUT_SECONDS for the acknowledgements.
3. **settled**: what Kafka did not acknowledge in time (down, slow, refusing) is in the outbox for
   `relay_outbox` — inserted now, or, already there, with its failed attempt counted; an entry
   already there that Kafka acknowledged is marked published. At least once: a late acknowledgement
   and the relay's copy carry the same message id, which the channel workers deduplicate.
4. **logged**: `message.accepted` for each, and the count on /metrics.

So a normal accept writes one row and no outbox entry.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Model

from config.db_bulk import GroupInserter
from messaging.errors import PublishError
from messaging.lifecycle import Action
from messaging.log_events import LogEmitter, Outcome
from messaging.metrics import MESSAGES_ACCEPTED
from messaging.publisher import is_permanent
from router.accept.outbox import outbox_entries_settle
from router.accept.prepare import PreparedMessage
from router.kafka_acks import KafkaAcks
from router.models import Message as MessageRow
from router.models import OutboxEntry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcceptClients:
    """The process's clients the protocol uses (router.kafka builds them, one of each per process)."""

    acks: KafkaAcks
    rows: GroupInserter
    log: LogEmitter
    timeout: float  # seconds to wait for Kafka's acknowledgements before the outbox takes over


@dataclass(frozen=True)
class Durability:
    acknowledged: int
    in_outbox: int  # Kafka did not acknowledge in time: in the outbox for the relay


def messages_make_durable(
    *,
    prepared: Sequence[PreparedMessage],
    clients: AcceptClients,
    committed: Sequence[OutboxEntry] | None = None,
) -> Durability:
    """Make the messages durable (the module's protocol); returns once all are. `committed`: their
    outbox entries (one per message, `message` loaded), already committed with their rows by the
    caller; None commits the rows here. A database error propagates, and then nothing was sent."""
    if not prepared:
        return Durability(0, 0)
    if committed is None:
        rows: list[tuple[type[Model], list[dict[str, Any]]]] = [
            (MessageRow, [message.index_row() for message in prepared])
        ]
        scheduled = [message.outbox_row(error="", attempts=0) for message in prepared if message.send_at]
        if scheduled:
            rows.append((OutboxEntry, scheduled))
        clients.rows.insert_together(rows)
    due = [message for message in prepared if message.send_at is None]
    errors = _sent(due, clients)
    failed = [(message, error) for message, error in zip(due, errors, strict=True) if error is not None]
    if committed is None:
        if failed:
            clients.rows.insert(OutboxEntry, [message.outbox_row(error=str(error)) for message, error in failed])
    else:
        entries = {entry.message_id: entry for entry in committed}
        outbox_entries_settle(
            acked=[entries[message.id] for message, error in zip(due, errors, strict=True) if error is None],
            failed=[(entries[message.id], error) for message, error in failed],
            log=clients.log,
        )
    if failed:
        logger.warning("%d message(s) not acknowledged by Kafka: left to the outbox relay", len(failed))
    messages_accepted(prepared, log=clients.log)
    return Durability(acknowledged=len(due) - len(failed), in_outbox=len(failed))


def _sent(messages: Sequence[PreparedMessage], clients: AcceptClients) -> list[PublishError | None]:
    """Each message's record to Kafka; None where it was acknowledged within the timeout, else why not."""
    pending = clients.acks.send([message.record for message in messages])
    return [
        None if error is None else PublishError(str(error) or type(error).__name__, permanent=is_permanent(error))
        for error in pending.outcomes(clients.timeout)
    ]


def messages_accepted(prepared: Sequence[PreparedMessage], *, log: LogEmitter) -> None:
    """Durable now: `message.accepted` for each (the API answers 202), counted for /metrics. The
    events of one accept share its moment, and are queued together."""
    now = datetime.now(UTC)
    log.publish_many(
        [
            log.event(
                Action.MESSAGE_ACCEPTED,
                trace_id=message.trace_id,
                message_id=message.id,
                channel=message.channel,
                recipient=message.recipient,
                outcome=Outcome.SUCCESS,
                message=f"{message.channel} message accepted"
                + (f", scheduled for {message.send_at.isoformat()}" if message.send_at else ""),
                timestamp=now,
            )
            for message in prepared
        ]
    )
    for channel, count in Counter(message.channel for message in prepared).items():
        MESSAGES_ACCEPTED.labels(channel=channel).inc(count)

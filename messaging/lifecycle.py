"""A message's lifecycle: the log actions the services emit, the statuses a client is told, and which
action moves a message to which status. Written here once; everything else imports it.

A status is what a message's events add up to (`status_after`, folded over the events in order): the
timeline and `GET /api/v1/messages/{id}` read it from Elasticsearch, the webhooks worker from the log
topics (`status_announced`, one event at a time). Renaming an action or a status happens here, so no
reader can miss it. No Django, no Kafka: the ground floor every layer may import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Action(StrEnum):
    """`event.action` of every log event, by the process that emits it."""

    # The router (`logs.router`): a message request and its way into Kafka.
    MESSAGE_ACCEPTED = "message.accepted"  # durable: the API answered 202
    MESSAGE_PUBLISHED = "message.published"  # the outbox relay got Kafka's acknowledgement
    MESSAGE_FAILED = "message.failed"  # Kafka refused the record for good (router.accept.outbox)
    MESSAGE_CANCELED = "message.canceled"  # by the client, before a provider had it
    MESSAGE_REJECTED = "message.rejected"  # a request answered 4xx: never a message
    # A channel worker (`logs.delivery.<channel>`).
    DELIVERY_RECEIVED = "delivery.received"
    DELIVERY_THROTTLED = "delivery.throttled"  # the provider said slow down: tried again, no attempt spent
    DELIVERY_SUPPRESSED = "delivery.suppressed"
    DELIVERY_EXPIRED = "delivery.expired"
    DELIVERY_UNKNOWN_OUTCOME_HELD = "delivery.unknown_outcome_held"
    DELIVERY_UNKNOWN_OUTCOME_RESENT = "delivery.unknown_outcome_resent"
    DELIVERY_FAILED = "delivery.failed"  # one attempt failed; a retry or a dead letter follows
    DELIVERY_RETRY_SCHEDULED = "delivery.retry_scheduled"
    DELIVERY_DEAD_LETTERED = "delivery.dead_lettered"
    DELIVERY_SENT = "delivery.sent"
    DELIVERY_DUPLICATE_SKIPPED = "delivery.duplicate_skipped"  # labels.delivery_status: the record's status
    DELIVERY_STATUS_REPORTED = "delivery.status_reported"  # a provider's receipt: labels.delivery_status
    # The webhooks worker (`logs.webhooks`): its own posts, not a message's status.
    WEBHOOK_DELIVERED = "webhook.delivered"
    WEBHOOK_FAILED = "webhook.failed"
    WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint_disabled"  # failed everything for WEBHOOKS_DISABLE_AFTER
    # The log indexer, into its errors index: a record that is no log event.
    LOG_REJECTED = "log.rejected"


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"  # accepted with a sendAt still ahead (the router's outbox holds it)
    ACCEPTED = "accepted"
    PENDING = "pending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"  # not final: an operator may replay the message from the DLQ
    # A worker died mid-send and the channel holds the message (ON_UNKNOWN_OUTCOME=hold).
    UNKNOWN = "unknown"
    CANCELED = "canceled"  # by the client, before a provider had it; final
    SUPPRESSED = "suppressed"  # the recipient is on the channel's suppression list: never sent; final
    EXPIRED = "expired"  # not handed to a provider by its expiresAt: never sent; final
    # The provider's receipts after `sent` (delivery.receipts); final.
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


# What each action says about the message; actions not listed (duplicate_skipped, …) say nothing new.
# Keyed by the action's text: an event read back carries a plain str (and an Action is one).
STATUS_AFTER: Mapping[str, MessageStatus] = {
    Action.MESSAGE_ACCEPTED: MessageStatus.ACCEPTED,
    Action.MESSAGE_PUBLISHED: MessageStatus.ACCEPTED,
    Action.MESSAGE_FAILED: MessageStatus.FAILED,
    Action.MESSAGE_CANCELED: MessageStatus.CANCELED,
    Action.DELIVERY_SUPPRESSED: MessageStatus.SUPPRESSED,
    Action.DELIVERY_EXPIRED: MessageStatus.EXPIRED,
    Action.DELIVERY_RECEIVED: MessageStatus.PENDING,
    Action.DELIVERY_THROTTLED: MessageStatus.PENDING,
    Action.DELIVERY_RETRY_SCHEDULED: MessageStatus.RETRYING,
    Action.DELIVERY_SENT: MessageStatus.SENT,
    Action.DELIVERY_DEAD_LETTERED: MessageStatus.FAILED,
    Action.DELIVERY_UNKNOWN_OUTCOME_HELD: MessageStatus.UNKNOWN,
    Action.DELIVERY_UNKNOWN_OUTCOME_RESENT: MessageStatus.PENDING,
}

# A provider's word on a message it took (`delivery.status_reported`); a later receipt may still
# replace an earlier one (a complaint after the delivery).
RECEIPT_STATUSES = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.BOUNCED, MessageStatus.COMPLAINED}
)
# No send happens any more: nothing but a receipt moves a message on from one of these; `sent` is left
# only for a receipt too. `failed` and `unknown` are not final (an operator may replay or settle them).
FINAL_STATUSES = frozenset({MessageStatus.CANCELED, MessageStatus.SUPPRESSED, MessageStatus.EXPIRED, *RECEIPT_STATUSES})
_LEFT_ONLY_FOR_A_RECEIPT = frozenset({MessageStatus.SENT, *FINAL_STATUSES})

# The record statuses a `delivery.duplicate_skipped` event may report (the channel's record, final or held).
SKIP_REPORTED_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.FAILED,
        MessageStatus.UNKNOWN,
        MessageStatus.CANCELED,
        MessageStatus.SUPPRESSED,
        MessageStatus.EXPIRED,
    }
)

# The router's events describe the start of a message's life: logged by another process, they may be
# stamped after the channel's first events (the relay publishes late), and must not set it back.
_START_ACTIONS = frozenset({Action.MESSAGE_ACCEPTED, Action.MESSAGE_PUBLISHED})

# Same-timestamp tie-break: the order these happen in for one message.
ACTION_ORDER: tuple[Action, ...] = (
    Action.MESSAGE_ACCEPTED,
    Action.MESSAGE_PUBLISHED,
    Action.MESSAGE_FAILED,
    Action.MESSAGE_CANCELED,
    Action.DELIVERY_RECEIVED,
    Action.DELIVERY_THROTTLED,
    Action.DELIVERY_SUPPRESSED,
    Action.DELIVERY_EXPIRED,
    Action.DELIVERY_UNKNOWN_OUTCOME_HELD,
    Action.DELIVERY_UNKNOWN_OUTCOME_RESENT,
    Action.DELIVERY_FAILED,
    Action.DELIVERY_RETRY_SCHEDULED,
    Action.DELIVERY_DEAD_LETTERED,
    Action.DELIVERY_SENT,
    Action.DELIVERY_DUPLICATE_SKIPPED,
    Action.DELIVERY_STATUS_REPORTED,
)
_RANK = {action.value: rank for rank, action in enumerate(ACTION_ORDER)}


def action_rank(action: str) -> int:
    """Where `action` comes in ACTION_ORDER; any other action after all of them."""
    return _RANK.get(action, len(ACTION_ORDER))


def _status_named(value: str | None, among: frozenset[MessageStatus]) -> MessageStatus | None:
    return MessageStatus(value) if value in among else None


def status_after(status: MessageStatus, action: str, *, reported: str | None = None) -> MessageStatus:
    """The status once a message in `status` logs `action`; `reported` is the event's
    `labels.delivery_status` (a receipt's, or the record's on a skipped duplicate), if any.

    A receipt moves any status (the provider's word on a message it took). Otherwise `sent` and the
    final statuses stay; the router's start events never move a message back to `accepted`; a skipped
    duplicate reports its record's status, the only sign of a send whose `delivery.sent` event was lost
    with a killed worker (found by tests/faults/test_worker_kill.py)."""
    if action == Action.DELIVERY_STATUS_REPORTED and (receipt := _status_named(reported, RECEIPT_STATUSES)):
        return receipt
    if status in _LEFT_ONLY_FOR_A_RECEIPT:
        return status
    if action in _START_ACTIONS and status is not MessageStatus.ACCEPTED:
        return status
    if action == Action.DELIVERY_DUPLICATE_SKIPPED:
        return _status_named(reported, SKIP_REPORTED_STATUSES) or status
    return STATUS_AFTER.get(action, status)


def status_of(events: Iterable[tuple[str, str | None]]) -> MessageStatus:
    """What a message's events, oldest first, add up to: (action, reported status) pairs folded with
    `status_after` from `accepted`."""
    status = MessageStatus.ACCEPTED
    for action, reported in events:
        status = status_after(status, action, reported=reported)
    return status


def status_announced(action: str, *, reported: str | None = None) -> MessageStatus | None:
    """The status one event moves a message to, read alone (the webhooks worker sees events one by
    one); None for an event that says nothing of the message's status."""
    if action == Action.DELIVERY_STATUS_REPORTED:
        return _status_named(reported, RECEIPT_STATUSES)
    return STATUS_AFTER.get(action)

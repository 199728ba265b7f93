"""The business decisions of a delivery, as plain functions: no Kafka, no database.

- `claim_action`: what to do with a record of a message, given the message's delivery record;
- `claim_plan`: what claiming a whole consume batch writes (delivery.services.deliveries_claim does it);
- `decide_outcome`: what a provider call's result means: sent, retry later, or dead-letter.

The Kafka steps (delivery.pipeline) only carry these decisions out.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from delivery.errors import PermanentProviderError
from delivery.models import DeliveryStatus
from delivery.retry_policy import RetryPolicy
from messaging.envelope import MessageEnvelope


class UnknownOutcomePolicy(StrEnum):
    """What a redelivered record whose attempt was claimed but never finished (the worker died
    mid-send) does: send again (at least once) or hold the message as `unknown` (at most once)."""

    RESEND = "resend"
    HOLD = "hold"


class ClaimAction(StrEnum):
    SEND = "send"
    RESEND_UNKNOWN = "resend_unknown"  # the claimed attempt's outcome is unknown: send again
    HOLD_UNKNOWN = "hold_unknown"  # … do not send; the record becomes `unknown`
    REPUBLISH_RETRY = "republish_retry"  # the attempt failed, its retry record may not be out
    REPUBLISH_DEAD_LETTER = "republish_dead_letter"  # … its dead letter may not be out
    SKIP = "skip"  # a duplicate or stale record: nothing to do
    SUPPRESS = "suppress"  # the recipient is on the channel's suppression list: no provider call
    EXPIRE = "expire"  # past the message's expiresAt before a provider had it: no provider call


# Actions that call the provider: the record is claimed (`sending`) first; past the message's expiry
# each is EXPIRE instead.
SENDING_ACTIONS = frozenset({ClaimAction.SEND, ClaimAction.RESEND_UNKNOWN})


@dataclass(frozen=True)
class RecordState:
    """What the claim needs of a delivery record."""

    pk: int
    status: str
    # The envelope attempt the status refers to: claimed (sending) or last finished.
    current_attempt: int
    # False between writing a retry/dead-letter outcome and Kafka acknowledging its record.
    outcome_published: bool
    last_error: str = ""
    claimed_at: datetime | None = None


def claim_action(
    state: RecordState | None,
    *,
    attempt: int,
    on_unknown: UnknownOutcomePolicy,
    idempotent_provider: bool,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> ClaimAction:
    """The record of `attempt` of a message meets the message's delivery record (None: first sight).

    Attempts only move forward: a record of an attempt before the current one is stale (a replayed
    offset, a re-published twin) and skipped. The current attempt still `sending` means an earlier
    process claimed it and died before writing its outcome: whether the provider got it is unknown.
    A provider that honours the idempotency key makes a resend harmless, so it is always resent.

    A message whose `expires_at` is not after `now` is never handed to a provider: what would be a
    send (a first one, a retry, or a resend of an unknown outcome) is EXPIRE instead. Both times are
    given, never read here, so the decision stays a pure function of its arguments.
    """
    action = _claim_action(state, attempt=attempt, on_unknown=on_unknown, idempotent_provider=idempotent_provider)
    if action not in SENDING_ACTIONS or expires_at is None:
        return action
    if now is None:
        raise TypeError("claim_action: `now` is needed with `expires_at`")
    return ClaimAction.EXPIRE if now >= expires_at else action


def _claim_action(
    state: RecordState | None, *, attempt: int, on_unknown: UnknownOutcomePolicy, idempotent_provider: bool
) -> ClaimAction:
    if state is None:
        return ClaimAction.SEND
    status, current = state.status, state.current_attempt
    if status == DeliveryStatus.PENDING:
        if attempt > current:
            return ClaimAction.SEND
        if attempt == current and not state.outcome_published:
            return ClaimAction.REPUBLISH_RETRY
        return ClaimAction.SKIP
    if status == DeliveryStatus.SENDING:
        if attempt > current:
            return ClaimAction.SEND
        if attempt == current:
            resend = on_unknown is UnknownOutcomePolicy.RESEND or idempotent_provider
            return ClaimAction.RESEND_UNKNOWN if resend else ClaimAction.HOLD_UNKNOWN
        return ClaimAction.SKIP
    if status == DeliveryStatus.FAILED and attempt == current and not state.outcome_published:
        return ClaimAction.REPUBLISH_DEAD_LETTER
    return ClaimAction.SKIP  # sent, failed, unknown, expired, … : final until an operator reopens it


@dataclass(frozen=True)
class ClaimPlan:
    """What claiming a batch writes, decided before anything is written.

    `actions` has one (action, the record as it was) per envelope, in order (None: first sight, or a
    duplicate). The rest are the writes: records to create (first sights, with the status they start
    in: `sending`, or final at once as `suppressed` / `expired`), records to claim per attempt, to
    end `suppressed` / `expired`, to hold as `unknown`, and the attempts whose outcome is unknown
    (claimed by a process that died before writing it), each an attempt row."""

    actions: list[tuple[ClaimAction, RecordState | None]]
    new_records: list[tuple[MessageEnvelope, DeliveryStatus]]
    claimed: dict[int, list[int]]  # attempt → the pks claimed for it
    suppressed: list[int]
    expired: list[int]
    held: list[int]
    unknown_attempts: list[tuple[RecordState, int]]  # (the record, its attempt)


def claim_recipients(*, envelopes: Sequence[MessageEnvelope], states: Mapping[uuid.UUID, RecordState]) -> set[str]:
    """The recipients whose suppression matters: those of messages that may be sent now (first sight
    or `pending`). A batch of redelivered records that are final already needs no lookup."""
    return {e.to for e in envelopes if (state := states.get(e.id)) is None or state.status == DeliveryStatus.PENDING}


def claim_plan(
    *,
    envelopes: Sequence[MessageEnvelope],
    states: Mapping[uuid.UUID, RecordState],
    suppressed: Collection[str],
    in_flight: Collection[uuid.UUID],
    on_unknown: UnknownOutcomePolicy,
    idempotent_provider: bool,
    now: datetime,
) -> ClaimPlan:
    """Each envelope's ClaimAction (claim_action) and the writes it takes, given the records of the
    batch's messages (`states`), the suppressed among its recipients and the ids this process has in
    flight. An id twice in the batch, or in flight here, is a duplicate: SKIP. A send to a suppressed
    recipient is SUPPRESS. An EXPIRE of an attempt a dead process had claimed (still `sending`) keeps
    an `unknown` attempt row: it may have gone out."""
    plan = ClaimPlan([], [], defaultdict(list), [], [], [], [])
    seen: set[uuid.UUID] = set()
    for envelope in envelopes:
        if envelope.id in seen or envelope.id in in_flight:
            plan.actions.append((ClaimAction.SKIP, None))
            continue
        seen.add(envelope.id)
        state = states.get(envelope.id)
        action = claim_action(
            state,
            attempt=envelope.attempt,
            on_unknown=on_unknown,
            idempotent_provider=idempotent_provider,
            expires_at=envelope.expires_at,
            now=now,
        )
        if action is ClaimAction.SEND and envelope.to in suppressed:
            action = ClaimAction.SUPPRESS
        plan.actions.append((action, state))
        _plan_writes(plan, envelope, action, state)
    return plan


_FIRST_STATUS = {
    ClaimAction.SEND: DeliveryStatus.SENDING,
    ClaimAction.RESEND_UNKNOWN: DeliveryStatus.SENDING,
    ClaimAction.SUPPRESS: DeliveryStatus.SUPPRESSED,
    ClaimAction.EXPIRE: DeliveryStatus.EXPIRED,
}


def _plan_writes(plan: ClaimPlan, envelope: MessageEnvelope, action: ClaimAction, state: RecordState | None) -> None:
    if state is None:
        if action in _FIRST_STATUS:
            plan.new_records.append((envelope, _FIRST_STATUS[action]))
        return
    if action is ClaimAction.EXPIRE:
        plan.expired.append(state.pk)
        if state.status == DeliveryStatus.SENDING and envelope.attempt == state.current_attempt:
            plan.unknown_attempts.append((state, envelope.attempt))
    elif action is ClaimAction.SUPPRESS:
        plan.suppressed.append(state.pk)
    else:
        if action in SENDING_ACTIONS:
            plan.claimed[envelope.attempt].append(state.pk)
        if action in (ClaimAction.RESEND_UNKNOWN, ClaimAction.HOLD_UNKNOWN):
            plan.unknown_attempts.append((state, envelope.attempt))
        if action is ClaimAction.HOLD_UNKNOWN:
            plan.held.append(state.pk)


@dataclass(frozen=True)
class Failure:
    """What went wrong, as it appears in logs, attempt rows and DLQ headers."""

    type: str
    message: str

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        return cls(type=type(error).__name__, message=str(error) or repr(error))

    @classmethod
    def parse(cls, text: str) -> Failure:
        """The `type: message` form a record's last_error holds."""
        kind, _, message = text.partition(": ")
        return cls(type=kind or "Error", message=message)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class CallResult:
    """One provider call: when, how long, and its answer (an id, or the error)."""

    started_at: datetime
    duration_ns: int
    provider_message_id: str = ""
    error: Exception | None = None
    # The name of the provider that answered (a channel may fail over between several).
    provider: str = ""


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


@dataclass(frozen=True)
class RetryLater:
    failure: Failure
    level: int  # the retry topic's level: attempt n failed → level n carries attempt n+1
    delay_seconds: float


@dataclass(frozen=True)
class DeadLetter:
    failure: Failure
    permanent: bool  # False: transient, but the attempts ran out


Outcome = Sent | RetryLater | DeadLetter


def decide_outcome(*, attempt: int, call: CallResult, policy: RetryPolicy) -> Outcome:
    """A permanent error dead-letters at once; any other error retries while attempts remain
    (the Provider contract: anything but PermanentProviderError may succeed later)."""
    if call.error is None:
        return Sent(provider_message_id=call.provider_message_id)
    failure = Failure.of(call.error)
    if isinstance(call.error, PermanentProviderError):
        return DeadLetter(failure=failure, permanent=True)
    if policy.can_retry(attempt):
        return RetryLater(failure=failure, level=attempt, delay_seconds=policy.delay(attempt))
    return DeadLetter(failure=failure, permanent=False)

"""The business decisions as plain functions: what a record does given its message's delivery record,
and what a provider's answer means."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from delivery.decisions import (
    CallResult,
    ClaimAction,
    ClaimPlan,
    DeadLetter,
    Failure,
    RecordState,
    RetryLater,
    Sent,
    UnknownOutcomePolicy,
    claim_action,
    claim_plan,
    claim_recipients,
    decide_outcome,
)
from delivery.errors import InvalidRecipient, PermanentProviderError, TransientProviderError
from delivery.models import DeliveryStatus
from delivery.retry_policy import RetryPolicy
from messaging.channels import Channel
from tests.delivery.support import make_envelope

RESEND, HOLD = UnknownOutcomePolicy.RESEND, UnknownOutcomePolicy.HOLD


def state(status: str, current: int, *, published: bool = True) -> RecordState:
    return RecordState(pk=1, status=status, current_attempt=current, outcome_published=published)


def action(record: RecordState | None, attempt: int, on_unknown=RESEND, idempotent=False) -> ClaimAction:
    return claim_action(record, attempt=attempt, on_unknown=on_unknown, idempotent_provider=idempotent)


def test_first_sight_is_sent():
    assert action(None, 1) is ClaimAction.SEND


@pytest.mark.parametrize(
    ("record", "attempt", "expected"),
    [
        (state(DeliveryStatus.PENDING, 0), 1, ClaimAction.SEND),  # reopened by a replay
        (state(DeliveryStatus.PENDING, 1), 2, ClaimAction.SEND),  # the retry of a failed attempt
        (state(DeliveryStatus.PENDING, 2), 2, ClaimAction.SKIP),  # that retry's twin, its outcome out
        (state(DeliveryStatus.PENDING, 2), 1, ClaimAction.SKIP),  # a stale record of an earlier attempt
        (state(DeliveryStatus.PENDING, 2, published=False), 2, ClaimAction.REPUBLISH_RETRY),
        (state(DeliveryStatus.FAILED, 3, published=False), 3, ClaimAction.REPUBLISH_DEAD_LETTER),
        (state(DeliveryStatus.FAILED, 3), 3, ClaimAction.SKIP),
        (state(DeliveryStatus.FAILED, 3, published=False), 2, ClaimAction.SKIP),
        (state(DeliveryStatus.SENT, 1), 1, ClaimAction.SKIP),
        (state(DeliveryStatus.SENT, 1), 2, ClaimAction.SKIP),  # sent is final, whatever comes later
        (state(DeliveryStatus.UNKNOWN, 1), 1, ClaimAction.SKIP),  # held until an operator settles it
        (state(DeliveryStatus.SENDING, 2), 1, ClaimAction.SKIP),
        (state(DeliveryStatus.SENDING, 1), 2, ClaimAction.SEND),
    ],
)
def test_attempts_only_move_forward(record, attempt, expected):
    assert action(record, attempt) is expected


def test_a_claimed_attempt_met_again_has_an_unknown_outcome_resent_or_held():
    claimed = state(DeliveryStatus.SENDING, 2)
    assert action(claimed, 2, RESEND) is ClaimAction.RESEND_UNKNOWN
    assert action(claimed, 2, HOLD) is ClaimAction.HOLD_UNKNOWN
    # A provider that honours the idempotency key makes the resend harmless: always resent.
    assert action(claimed, 2, HOLD, idempotent=True) is ClaimAction.RESEND_UNKNOWN


NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def action_at(record: RecordState | None, attempt: int, *, expires_at: datetime | None, on_unknown=RESEND):
    return claim_action(
        record, attempt=attempt, on_unknown=on_unknown, idempotent_provider=False, expires_at=expires_at, now=NOW
    )


@pytest.mark.parametrize(
    ("record", "attempt", "expected"),
    [
        (None, 1, ClaimAction.EXPIRE),  # first sight, too late
        (state(DeliveryStatus.PENDING, 1), 2, ClaimAction.EXPIRE),  # its retry came after the expiry
        (state(DeliveryStatus.SENDING, 1), 1, ClaimAction.EXPIRE),  # no resend of an unknown outcome either
        (state(DeliveryStatus.SENT, 1), 1, ClaimAction.SKIP),  # sent before: stays sent
        (state(DeliveryStatus.EXPIRED, 1), 1, ClaimAction.SKIP),  # expired is final
        (state(DeliveryStatus.PENDING, 2, published=False), 2, ClaimAction.REPUBLISH_RETRY),  # no call in it
    ],
)
def test_past_its_expiry_a_message_is_expired_instead_of_sent(record, attempt, expected):
    assert action_at(record, attempt, expires_at=NOW) is expected  # expiresAt == now: too late already
    assert action_at(record, attempt, expires_at=NOW - timedelta(hours=1)) is expected


def test_before_its_expiry_or_without_one_a_message_is_sent():
    assert action_at(None, 1, expires_at=NOW + timedelta(seconds=1)) is ClaimAction.SEND
    assert action_at(None, 1, expires_at=None) is ClaimAction.SEND
    assert action_at(state(DeliveryStatus.SENDING, 1), 1, expires_at=None, on_unknown=HOLD) is ClaimAction.HOLD_UNKNOWN


def test_an_expiry_without_the_time_to_judge_it_is_a_programming_error():
    with pytest.raises(TypeError, match="now"):
        claim_action(None, attempt=1, on_unknown=RESEND, idempotent_provider=False, expires_at=NOW)


POLICY = RetryPolicy(max_attempts=3, delays=(1.0, 5.0), jitter=0.0)


def call(error: Exception | None = None, provider_message_id: str = "") -> CallResult:
    return CallResult(datetime.now(UTC), 1000, provider_message_id=provider_message_id, error=error)


def test_an_answer_without_error_is_sent():
    assert decide_outcome(attempt=1, call=call(provider_message_id="p1"), policy=POLICY) == Sent("p1")


def test_transient_errors_retry_on_the_attempts_level_until_attempts_run_out():
    busy = TransientProviderError("busy")
    assert decide_outcome(attempt=1, call=call(busy), policy=POLICY) == RetryLater(Failure.of(busy), 1, 1.0)
    assert decide_outcome(attempt=2, call=call(busy), policy=POLICY) == RetryLater(Failure.of(busy), 2, 5.0)
    assert decide_outcome(attempt=3, call=call(busy), policy=POLICY) == DeadLetter(Failure.of(busy), permanent=False)


def test_any_other_exception_counts_as_transient():
    outcome = decide_outcome(attempt=1, call=call(ConnectionResetError("reset")), policy=POLICY)
    assert isinstance(outcome, RetryLater) and outcome.failure.type == "ConnectionResetError"


@pytest.mark.parametrize("error", [PermanentProviderError("no such number"), InvalidRecipient("'x' is not valid")])
def test_permanent_errors_dead_letter_at_once(error):
    assert decide_outcome(attempt=1, call=call(error), policy=POLICY) == DeadLetter(Failure.of(error), permanent=True)


def test_a_failure_round_trips_through_last_error():
    failure = Failure("TransientProviderError", "busy: try later")
    assert Failure.parse(str(failure)) == failure


# --- A whole batch's claim, decided before anything is written (deliveries_claim carries it out) ---
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def plan_of(envelopes, states=None, *, suppressed=(), in_flight=(), on_unknown=RESEND) -> ClaimPlan:
    return claim_plan(
        envelopes=envelopes,
        states=states or {},
        suppressed=suppressed,
        in_flight=in_flight,
        on_unknown=on_unknown,
        idempotent_provider=False,
        now=NOW,
    )


def test_a_batch_plan_creates_first_sights_claimed_suppressed_or_expired_and_skips_duplicates():
    fresh = make_envelope(Channel.SMS)
    twin_of_fresh = replace(fresh)
    blocked = make_envelope(Channel.SMS, to="+15005550009")
    late = make_envelope(Channel.SMS, expires_at=NOW - timedelta(seconds=1))
    busy = make_envelope(Channel.SMS)
    plan = plan_of([fresh, twin_of_fresh, blocked, late, busy], suppressed={"+15005550009"}, in_flight={busy.id})
    assert [action for action, _ in plan.actions] == [
        ClaimAction.SEND,
        ClaimAction.SKIP,
        ClaimAction.SUPPRESS,
        ClaimAction.EXPIRE,
        ClaimAction.SKIP,
    ]
    assert plan.new_records == [
        (fresh, DeliveryStatus.SENDING),
        (blocked, DeliveryStatus.SUPPRESSED),
        (late, DeliveryStatus.EXPIRED),
    ]
    assert (plan.claimed, plan.suppressed, plan.expired, plan.held, plan.unknown_attempts) == ({}, [], [], [], [])


def test_a_batch_plan_claims_known_records_per_attempt_and_notes_unknown_outcomes():
    retry, resent, held, expired_mid_send, done = (make_envelope(Channel.SMS, attempt=2) for _ in range(5))
    states = {
        retry.id: RecordState(pk=1, status=DeliveryStatus.PENDING, current_attempt=1, outcome_published=True),
        resent.id: RecordState(pk=2, status=DeliveryStatus.SENDING, current_attempt=2, outcome_published=True),
        done.id: RecordState(pk=5, status=DeliveryStatus.SENT, current_attempt=2, outcome_published=True),
    }
    plan = plan_of([retry, resent, done], states)  # `done` is a twin of attempt 2, already sent
    assert [action for action, _ in plan.actions] == [ClaimAction.SEND, ClaimAction.RESEND_UNKNOWN, ClaimAction.SKIP]
    assert plan.claimed == {2: [1, 2]}
    assert plan.unknown_attempts == [(states[resent.id], 2)]
    assert plan.new_records == [] and plan.held == []

    sending = RecordState(pk=3, status=DeliveryStatus.SENDING, current_attempt=2, outcome_published=True)
    assert plan_of([held], {held.id: sending}, on_unknown=HOLD).held == [3]
    late = replace(expired_mid_send, expires_at=NOW)
    plan = plan_of([late], {late.id: replace(sending, pk=4)})
    assert plan.expired == [4]
    assert plan.unknown_attempts == [(replace(sending, pk=4), 2)], "it may have gone out: its attempt row says so"


def test_a_retry_to_a_recipient_suppressed_meanwhile_is_suppressed():
    retry = make_envelope(Channel.SMS, attempt=2)
    state_ = RecordState(pk=7, status=DeliveryStatus.PENDING, current_attempt=1, outcome_published=True)
    assert claim_recipients(envelopes=[retry], states={retry.id: state_}) == {retry.to}
    assert plan_of([retry], {retry.id: state_}, suppressed={retry.to}).suppressed == [7]
    sent = replace(state_, status=DeliveryStatus.SENT)
    assert claim_recipients(envelopes=[retry], states={retry.id: sent}) == set(), "final: no lookup needed"

"""The lifecycle (pure): which action moves a message to which status, and that actions and statuses
are written once, in messaging/lifecycle.py, not as string literals spread over the product."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.lifecycle import (
    ACTION_ORDER,
    FINAL_STATUSES,
    RECEIPT_STATUSES,
    STATUS_AFTER,
    Action,
    MessageStatus,
    action_rank,
    status_after,
    status_announced,
    status_of,
)

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = Path("messaging/lifecycle.py")
NOT_PRODUCT = {"tests", "bench", "migrations", ".venv", "var", "node_modules"}
STATUSES = {status.value for status in MessageStatus}
ACTIONS = {action.value for action in Action}

S = MessageStatus


# --- transitions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "reported", "after"),
    [
        (S.ACCEPTED, Action.DELIVERY_RECEIVED, None, S.PENDING),
        (S.PENDING, Action.DELIVERY_THROTTLED, None, S.PENDING),
        (S.PENDING, Action.DELIVERY_FAILED, None, S.PENDING),  # a retry or a dead letter says what follows
        (S.PENDING, Action.DELIVERY_RETRY_SCHEDULED, None, S.RETRYING),
        (S.RETRYING, Action.DELIVERY_SENT, None, S.SENT),
        (S.PENDING, Action.DELIVERY_DEAD_LETTERED, None, S.FAILED),
        (S.FAILED, Action.DELIVERY_RECEIVED, None, S.PENDING),  # replayed from the DLQ: failed is not final
        (S.PENDING, Action.DELIVERY_UNKNOWN_OUTCOME_HELD, None, S.UNKNOWN),
        (S.UNKNOWN, Action.DELIVERY_SENT, None, S.SENT),  # an operator resolved it as sent
        (S.PENDING, Action.DELIVERY_UNKNOWN_OUTCOME_RESENT, None, S.PENDING),
        (S.ACCEPTED, Action.MESSAGE_CANCELED, None, S.CANCELED),
        (S.ACCEPTED, Action.MESSAGE_FAILED, None, S.FAILED),
        (S.PENDING, Action.DELIVERY_SUPPRESSED, None, S.SUPPRESSED),
        (S.PENDING, Action.DELIVERY_EXPIRED, None, S.EXPIRED),
        # The router's start events never set a message back to accepted.
        (S.PENDING, Action.MESSAGE_PUBLISHED, None, S.PENDING),
        (S.FAILED, Action.MESSAGE_ACCEPTED, None, S.FAILED),
        # A skipped duplicate reports its record's status (its `delivery.sent` may have been lost).
        (S.PENDING, Action.DELIVERY_DUPLICATE_SKIPPED, "sent", S.SENT),
        (S.PENDING, Action.DELIVERY_DUPLICATE_SKIPPED, "expired", S.EXPIRED),
        (S.PENDING, Action.DELIVERY_DUPLICATE_SKIPPED, "sending", S.PENDING),  # not a status it may report
        (S.PENDING, Action.DELIVERY_DUPLICATE_SKIPPED, None, S.PENDING),
        # Receipts: after sent, and one after another; a receipt-less report changes nothing.
        (S.SENT, Action.DELIVERY_STATUS_REPORTED, "delivered", S.DELIVERED),
        (S.DELIVERED, Action.DELIVERY_STATUS_REPORTED, "complained", S.COMPLAINED),
        (S.SENT, Action.DELIVERY_STATUS_REPORTED, "sent", S.SENT),
        # Actions that say nothing of the message, and actions this version does not know.
        (S.PENDING, Action.WEBHOOK_FAILED, None, S.PENDING),
        (S.RETRYING, "delivery.renamed_long_ago", None, S.RETRYING),
    ],
)
def test_an_action_moves_a_message_to_its_status(status, action, reported, after):
    assert status_after(status, action, reported=reported) is after


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES | {S.SENT}))
@pytest.mark.parametrize("action", [a for a in Action if a is not Action.DELIVERY_STATUS_REPORTED])
def test_sent_and_the_final_statuses_are_left_for_nothing_but_a_receipt(final, action):
    assert status_after(final, action, reported="sent") is final


def test_the_final_statuses_are_those_no_send_follows():
    assert {S.CANCELED, S.SUPPRESSED, S.EXPIRED, *RECEIPT_STATUSES} == FINAL_STATUSES
    assert {S.DELIVERED, S.UNDELIVERED, S.BOUNCED, S.COMPLAINED} == RECEIPT_STATUSES


def test_a_message_starts_accepted_and_folds_its_events_in_order():
    assert status_of([]) is S.ACCEPTED
    events = [(Action.MESSAGE_ACCEPTED, None), (Action.DELIVERY_RECEIVED, None), (Action.DELIVERY_SENT, None)]
    assert status_of(events) is S.SENT
    assert status_of([*events, (Action.DELIVERY_STATUS_REPORTED, "bounced")]) is S.BOUNCED


@pytest.mark.parametrize(
    ("action", "reported", "announced"),
    [
        (Action.DELIVERY_SENT, None, S.SENT),
        (Action.MESSAGE_FAILED, None, S.FAILED),
        (Action.DELIVERY_STATUS_REPORTED, "undelivered", S.UNDELIVERED),
        (Action.DELIVERY_STATUS_REPORTED, "sent", None),
        (Action.DELIVERY_DUPLICATE_SKIPPED, "sent", None),  # a redelivery, not a change
        (Action.DELIVERY_FAILED, None, None),
        (Action.MESSAGE_REJECTED, None, None),
        ("no.such_action", None, None),
    ],
)
def test_an_event_read_alone_announces_the_status_it_moves_to(action, reported, announced):
    assert status_announced(action, reported=reported) is announced


def test_every_action_that_moves_a_status_has_its_place_in_the_order():
    assert set(STATUS_AFTER) <= set(ACTION_ORDER)
    assert len(set(ACTION_ORDER)) == len(ACTION_ORDER)
    assert action_rank(Action.MESSAGE_ACCEPTED) < action_rank(Action.DELIVERY_RECEIVED) < action_rank("x.y")


# --- written once -------------------------------------------------------------------------------


def product_modules() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if not NOT_PRODUCT.intersection(relative.parts):
            yield relative


def _other_enum_members(tree: ast.Module) -> set[int]:
    """Ids of the literals that define a member of another enumeration (`AttemptOutcome.SENT`,
    `Outcome.UNKNOWN`): another concept's one definition, which happens to share a word."""
    members: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        bases = {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "") for base in node.bases}
        if not any(name.endswith(("Enum", "Choices")) for name in bases):
            continue
        for statement in node.body:
            if isinstance(statement, ast.Assign):
                values = statement.value.elts if isinstance(statement.value, ast.Tuple) else [statement.value]
                members.update(id(value) for value in values[:1])
    return members


def lifecycle_literals(source: str) -> set[str]:
    """The actions and statuses a module writes as string literals. A status word that defines another
    enumeration's member or keys a dict (a response's field, a provider's own vocabulary) is not one;
    an action is one wherever it is written."""
    tree = ast.parse(source)
    exempt = _other_enum_members(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            exempt.update(id(key) for key in node.keys if key is not None)
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if node.value in ACTIONS or (node.value in STATUSES and id(node) not in exempt):
            found.add(node.value)
    return found


def test_the_scan_sees_actions_and_statuses_and_lets_other_words_be():
    source = (
        "class AttemptOutcome(models.TextChoices):\n    SENT = 'sent', 'Sent'\n"
        "TWILIO = {'delivered': 1}\n"
        "emit('delivery.sent')\n"
        "status = 'expired'\n"
        "ACTIONS = {'delivery.failed': 1}\n"
        "label = 'sending'\n"
    )
    assert lifecycle_literals(source) == {"delivery.sent", "expired", "delivery.failed"}


def test_no_action_or_status_is_written_as_a_literal_in_more_than_one_module():
    """Renaming an action or a status must not silently break a reader elsewhere (webhooks, GET):
    a value may be spelled out in one product module at most, besides messaging/lifecycle.py."""
    modules: dict[str, list[str]] = defaultdict(list)
    for module in product_modules():
        if module == LIFECYCLE:
            continue
        for value in lifecycle_literals((ROOT / module).read_text(encoding="utf-8")):
            modules[value].append(str(module))
    spread = {value: where for value, where in sorted(modules.items()) if len(where) > 1}
    assert not spread, "write these through messaging.lifecycle (Action, MessageStatus): " + "; ".join(
        f"{value!r} in {', '.join(where)}" for value, where in spread.items()
    )

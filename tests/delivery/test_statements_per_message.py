"""A behaviour guard on the worker's database work per message (not a timing): the statements and
committer hand-offs one handled message costs. A change that adds one should be a conscious one."""

from collections import Counter

import pytest

from bench.handler import counting_statements, in_process_handler, record_for
from delivery.models import DeliveryStatus
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, make_envelope, records

# The real committer thread runs the writes (no test transaction around them), as in `consume`.
pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)

# The record: read (worker thread), INSERT, UPDATE by pk; the simulator's ledger: read (worker thread),
# INSERT unless the key is there (no unique key, on purpose); the attempt row: INSERT.
SENT_STATEMENTS = Counter({"SELECT": 2, "INSERT": 3, "UPDATE": 1})
# Record created, ledger written, outcome recorded: the ledger stands for an external provider, so
# its write is not folded into the record's.
SENT_HAND_OFFS = 3


def without_begin(verbs: Counter[str]) -> Counter[str]:
    """One message alone is one transaction per hand-off; under load the committer shares them."""
    return Counter({verb: n for verb, n in verbs.items() if verb != "BEGIN"})


def test_statements_per_sent_message():
    handler = in_process_handler(Channel.SMS)
    envelope = make_envelope(Channel.SMS)
    with counting_statements() as count:
        handler(record_for(envelope))
    (record,) = records(Channel.SMS, [envelope.id])
    assert record.status == DeliveryStatus.SENT
    assert without_begin(count.verbs) == SENT_STATEMENTS
    assert count.hand_offs == SENT_HAND_OFFS


def test_a_redelivered_sent_message_costs_one_read_and_no_write():
    handler = in_process_handler(Channel.SMS)
    envelope = make_envelope(Channel.SMS)
    handler(record_for(envelope))
    with counting_statements() as count:
        handler(record_for(envelope))
    assert without_begin(count.verbs) == Counter({"SELECT": 1})
    assert count.hand_offs == 0

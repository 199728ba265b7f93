"""A behaviour guard on the worker's database work (not a timing): a wave of calls (up to the worker's
MAX_IN_FLIGHT) costs the same statements whatever its size — one claim transaction, one call-log
insert, one outcome transaction — and a consume batch costs one wave's statements per wave. A change
that adds per-message statements should be a conscious one."""

from collections import Counter

import pytest
from django.conf import settings

from bench.handler import counting_statements, in_process_chain, items_for
from delivery.models import DeliveryStatus
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, make_envelope, records

pytestmark = [
    pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True),
    # Counted at SQLite's cursor: on a server database (bin/test --postgres) there is nothing to count.
    pytest.mark.skipif(settings.DATABASES["sms"]["ENGINE"] != "django.db.backends.sqlite3", reason="SQLite only"),
]

# Claim: read the records, read which recipients are suppressed (issue 14), insert the new ones (one
# executemany), read their pks back. The simulator: its call log (one executemany), in a transaction of
# its own, as an external provider's would be. Outcomes: one UPDATE executemany for the sent, one
# INSERT executemany for the attempt rows.
BATCH_STATEMENTS = Counter({"BEGIN": 3, "SELECT": 3, "INSERT": 3, "UPDATE": 1})


WAVE = 32  # the pool's size: MAX_IN_FLIGHT


@pytest.mark.parametrize(("size", "waves"), [(1, 1), (WAVE, 1), (50, 2), (3 * WAVE, 3)])
def test_a_wave_of_sent_messages_costs_the_same_statements_whatever_its_size(size, waves):
    steps, guard = in_process_chain(Channel.SMS, pool_size=WAVE)
    envelopes = [make_envelope(Channel.SMS) for _ in range(size)]
    with counting_statements() as count:
        guard.run(steps, items_for(envelopes))
    assert {r.status for r in records(Channel.SMS, [e.id for e in envelopes])} == {DeliveryStatus.SENT}
    assert count.verbs == Counter({verb: n * waves for verb, n in BATCH_STATEMENTS.items()})


def test_a_redelivered_batch_of_sent_messages_costs_one_read_and_no_write():
    steps, guard = in_process_chain(Channel.SMS)
    envelopes = [make_envelope(Channel.SMS) for _ in range(20)]
    guard.run(steps, items_for(envelopes))
    with counting_statements() as count:
        guard.run(steps, items_for(envelopes, first_offset=20))
    assert count.verbs == Counter({"BEGIN": 1, "SELECT": 1})

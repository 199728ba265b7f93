"""What a commit survives (docs/api.md, issue 16): the router's database, which holds what a 202
promised, syncs every commit to disk (synchronous=FULL); a channel database, whose lost commit Kafka
redelivers, syncs at checkpoints (NORMAL)."""

import pytest
from django.db import connections

from tests.delivery.support import CHANNEL_DBS

FULL, NORMAL = 2, 1


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_the_router_database_syncs_every_commit_and_the_channel_databases_do_not():
    found = {}
    for alias in CHANNEL_DBS:
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA synchronous")
            found[alias] = cursor.fetchone()[0]
    assert found == {"default": FULL, "email": NORMAL, "sms": NORMAL, "whatsapp": NORMAL}

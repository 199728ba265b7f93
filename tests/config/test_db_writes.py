"""Group commit: many threads' writes in one transaction, each caller answered after the commit,
a failing write failing alone."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError

from config.db_writes import group_write
from sms_service.models import SmsSimulatedSend

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sms"])


def _send(n: int, provider_message_id: str | None = None) -> int:
    row = SmsSimulatedSend.objects.using("sms").create(
        idempotency_key=f"key-{n}",
        provider_message_id=provider_message_id or f"sim-{n}",
        trace_id="a" * 32,
        recipient="+14155552671",
        body="hi",
        attempt=1,
    )
    return row.pk


def test_writes_from_many_threads_are_all_committed_and_returned():
    with ThreadPoolExecutor(max_workers=16) as pool:
        pks = list(pool.map(lambda n: group_write("sms", lambda: _send(n)), range(200)))
    assert len(set(pks)) == 200
    assert SmsSimulatedSend.objects.using("sms").count() == 200


def test_a_failing_write_fails_alone():
    group_write("sms", lambda: _send(0, "taken"))

    def write(n: int) -> object:
        try:
            return group_write("sms", lambda: _send(n, "taken" if n == 5 else None))
        except IntegrityError as error:
            return error

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(write, range(1, 50)))
    assert isinstance(results[4], IntegrityError)
    assert sum(isinstance(result, int) for result in results) == 48
    assert SmsSimulatedSend.objects.using("sms").count() == 49

"""`manage.py purge`: rows and log indices past their retention go, everything still in play stays;
a dry run only counts. Rows are aged by rewriting their timestamps."""

import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from delivery.models import DeliveryStatus
from logging_service.connection import elasticsearch
from messaging.channels import Channel
from messaging.tracing import TraceContext
from router.accept.outbox import outbox_store
from router.accept.prepare import message_prepare
from router.domain import Client, MessageRequest
from router.models import IdempotencyRecord, OutboxEntry
from tests.delivery.support import CHANNEL_DBS, spec
from tests.factories import SmsDeliveryFactory

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
SMS = spec(Channel.SMS)


def outbox_entry(*, published_days_ago: float | None) -> OutboxEntry:
    request = MessageRequest(channel=Channel.SMS, to="+14155552671", body="hi")
    prepared = message_prepare(request=request, client=Client(id="key:test"), trace=TraceContext.new())
    (entry,) = outbox_store([prepared])
    if published_days_ago is not None:
        published = timezone.now() - timedelta(days=published_days_ago)
        OutboxEntry.objects.filter(pk=entry.pk).update(published_at=published)
    return entry


def delivery(status: str, days_ago: float):
    record = SmsDeliveryFactory(status=status)
    record.attempts.create(number=1, outcome="sent", started_at=timezone.now(), duration_ms=1)
    SMS.record_model.objects.using(SMS.database).filter(pk=record.pk).update(
        updated_at=timezone.now() - timedelta(days=days_ago)
    )
    return record


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("purge", *args, stdout=out)
    return out.getvalue()


def test_purge_removes_only_what_is_past_retention_and_a_dry_run_removes_nothing():
    old_published, fresh_published, unpublished = (
        outbox_entry(published_days_ago=10),
        outbox_entry(published_days_ago=1),
        outbox_entry(published_days_ago=None),
    )
    expired_key = IdempotencyRecord.objects.create(
        client="key:test", key="old", fingerprint="f", response={}, created_at=timezone.now() - timedelta(days=5)
    )
    live_key = IdempotencyRecord.objects.create(
        client="key:test", key="new", fingerprint="f", response={}, created_at=timezone.now()
    )
    old_sent, old_pending, old_unknown, new_sent = (
        delivery(DeliveryStatus.SENT, 40),
        delivery(DeliveryStatus.PENDING, 40),
        delivery(DeliveryStatus.UNKNOWN, 40),
        delivery(DeliveryStatus.SENT, 1),
    )
    client = elasticsearch()
    old_index, today_index = (
        f"{settings.LOG_INDEX_PREFIX}-2020.01.01",
        f"{settings.LOG_INDEX_PREFIX}-{timezone.now():%Y.%m.%d}",
    )
    for name in (old_index, today_index, f"{settings.LOG_INDEX_PREFIX}-errors"):
        client.options(ignore_status=400).indices.create(index=name)

    dry = run("--dry-run")
    assert "would delete        1 published outbox entries" in dry
    assert old_index in dry and today_index not in dry
    assert OutboxEntry.objects.filter(pk=old_published.pk).exists()
    assert client.indices.exists(index=old_index)

    run()
    assert set(OutboxEntry.objects.values_list("pk", flat=True)) == {fresh_published.pk, unpublished.pk}
    assert set(IdempotencyRecord.objects.values_list("pk", flat=True)) == {live_key.pk}
    assert expired_key.pk not in IdempotencyRecord.objects.values_list("pk", flat=True)
    kept = set(SMS.record_model.objects.using(SMS.database).values_list("pk", flat=True))
    assert kept == {old_pending.pk, old_unknown.pk, new_sent.pk}
    assert not SMS.attempt_model.objects.using(SMS.database).filter(delivery_id=old_sent.pk).exists()
    assert not client.indices.exists(index=old_index)
    assert client.indices.exists(index=today_index)
    assert client.indices.exists(index=f"{settings.LOG_INDEX_PREFIX}-errors")


def test_older_than_applies_one_age_to_everything():
    recent = outbox_entry(published_days_ago=2)
    assert "deleted        1 published outbox entries" in run("--older-than", "1d")
    assert not OutboxEntry.objects.filter(pk=recent.pk).exists()

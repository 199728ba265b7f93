"""Each channel's admin lists deliveries, searches by message id / trace id / recipient, is read-only,
shows attempts inline and exposes the simulator ledger."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from delivery.models import AttemptOutcome, DeliveryStatus
from messaging.channels import Channel
from messaging.envelope import MessageEnvelope
from messaging.topics import delivery_log_topic, send_topic
from tests.delivery.support import CHANNEL_DBS, held, log_events, records, records_with_key
from tests.factories import EmailDeliveryFactory, SmsDeliveryFactory, WhatsAppDeliveryFactory


@pytest.mark.django_db(databases=CHANNEL_DBS)
@pytest.mark.parametrize(
    ("factory", "app", "model", "ledger"),
    [
        (EmailDeliveryFactory, "email_service", "emaildelivery", "emailsimulatedsend"),
        (SmsDeliveryFactory, "sms_service", "smsdelivery", "smssimulatedsend"),
        (WhatsAppDeliveryFactory, "whatsapp_service", "whatsappdelivery", "whatsappsimulatedsend"),
    ],
)
def test_admin_lists_searches_and_shows_attempts(admin_client, factory, app, model, ledger):
    record = factory()
    other = factory()
    record.attempts.create(number=1, outcome=AttemptOutcome.TRANSIENT_FAILURE, started_at=timezone.now(), duration_ms=3)
    changelist = reverse(f"admin:{app}_{model}_changelist")

    for term in (str(record.message_id), record.trace_id, record.recipient):
        page = admin_client.get(changelist, {"q": term})
        assert page.status_code == 200
        assert str(record.message_id) in page.content.decode()
        assert str(other.message_id) not in page.content.decode()
    assert admin_client.get(changelist, {"status__exact": "pending"}).status_code == 200
    held = factory(status=DeliveryStatus.UNKNOWN)
    page = admin_client.get(changelist, {"status__exact": "unknown"}).content.decode()
    assert str(held.message_id) in page and str(record.message_id) not in page
    assert "Unknown (worker died mid-send; held)" in page  # the filter offers it by name

    detail = admin_client.get(reverse(f"admin:{app}_{model}_change", args=[record.pk]))
    assert detail.status_code == 200
    assert "transient_failure" in detail.content.decode() or "Transient failure" in detail.content.decode()
    assert admin_client.get(reverse(f"admin:{app}_{model}_add")).status_code == 403
    assert admin_client.get(reverse(f"admin:{app}_{ledger}_changelist")).status_code == 200


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_the_admin_index_names_every_model_in_its_plural(client):
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.utils.text import capfirst

    client.force_login(User.objects.create_user("ops", is_staff=True, is_superuser=True))
    index = client.get(reverse("admin:index")).content.decode()
    for plural in ("Email deliveries", "SMS deliveries", "WhatsApp deliveries", "Outbox entries"):
        assert plural in index
    assert "deliverys" not in index.lower()
    for model in admin.site._registry:
        plural = str(model._meta.verbose_name_plural)
        assert capfirst(plural) in index, plural
        assert not plural.endswith(("ys", "ss", "chs", "shs", "xs")) or plural.endswith(("ays", "eys", "oys")), plural


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_staff_settle_selected_held_messages_from_the_admin(client):
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.models import User

    channel = Channel.EMAIL
    settle, resend = held(channel, held_for=timedelta(minutes=10)), held(channel, held_for=timedelta(minutes=10))
    untouched = held(channel, held_for=timedelta(minutes=10))
    sent = EmailDeliveryFactory(status=DeliveryStatus.SENT)
    client.force_login(User.objects.create_user("ops", is_staff=True, is_superuser=True))
    changelist = reverse("admin:email_service_emaildelivery_changelist")
    pks = {r.message_id: r.pk for r in records(channel, [settle.id, resend.id, untouched.id])}
    assert "Settle selected held (unknown) messages as sent" in client.get(changelist).content.decode()

    page = client.post(
        changelist, {"action": "settle_as_sent", "_selected_action": [pks[settle.id], sent.pk]}, follow=True
    ).content.decode()
    assert "1 held message(s) resolved as sent." in page
    assert "1 selected message(s) were not held as unknown: left as they are." in page
    (event,) = log_events(delivery_log_topic(channel), settle.id)
    assert event["event"]["action"] == "delivery.sent" and "resolved as sent by an operator" in event["message"]

    page = client.post(changelist, {"action": "send_again", "_selected_action": [pks[resend.id]]}, follow=True)
    assert "1 held message(s) sent again." in page.content.decode()
    (republished,) = records_with_key(send_topic(channel), str(resend.id).encode())
    assert MessageEnvelope.from_json(republished.value()).attempt == 1

    statuses = {r.message_id: r.status for r in records(channel, [settle.id, resend.id, untouched.id, sent.message_id])}
    assert statuses == {
        settle.id: DeliveryStatus.SENT,
        resend.id: DeliveryStatus.PENDING,
        untouched.id: DeliveryStatus.UNKNOWN,
        sent.message_id: DeliveryStatus.SENT,
    }
    history = set(LogEntry.objects.values_list("object_id", "change_message"))
    assert history == {
        (str(pks[settle.id]), "held as unknown, resolved: sent"),
        (str(pks[resend.id]), "held as unknown, resolved: resend"),
    }


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_staff_without_the_change_permission_see_no_settle_action(client):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_emaildelivery"))
    client.force_login(viewer)
    page = client.get(reverse("admin:email_service_emaildelivery_changelist"))
    assert page.status_code == 200 and "Settle selected held" not in page.content.decode()

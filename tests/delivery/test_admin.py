"""Each channel's admin lists deliveries, searches by message id / trace id / recipient, is read-only,
shows attempts inline and exposes the simulator ledger."""

import pytest
from django.urls import reverse
from django.utils import timezone

from delivery.models import AttemptOutcome, DeliveryStatus
from tests.delivery.support import CHANNEL_DBS
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

"""Staff see clients' webhook endpoints in the admin, per API key, with how their last posts went."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.router.factories import ApiKeyFactory
from webhooks.models import WebhookEndpoint

SECRET = "whsec_" + "A" * 44


@pytest.mark.django_db(databases=["default"])
def test_staff_see_every_endpoint_per_api_key_with_its_last_delivery_and_error(client):
    shop, bank = ApiKeyFactory(name="shop"), ApiKeyFactory(name="bank")
    WebhookEndpoint.objects.create(
        client=f"key:{shop.prefix}",
        url="https://shop.example.com/hooks",
        events=["message.failed", "message.sent"],
        secret=SECRET,
        last_delivered_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
    )
    WebhookEndpoint.objects.create(
        client=f"key:{bank.prefix}",
        url="https://bank.example.com/status",
        events=["message.delivered"],
        secret=SECRET,
        last_error="HTTP 503",
        last_error_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )
    client.force_login(User.objects.create_user("ops", is_staff=True, is_superuser=True))

    index = client.get(reverse("admin:index")).content.decode()
    assert "Webhook endpoints" in index
    page = client.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    for shown in (
        f"shop ({shop.prefix})",
        f"bank ({bank.prefix})",
        "https://shop.example.com/hooks",
        "message.failed, message.sent",
        "https://bank.example.com/status",
        "HTTP 503",
        "Nov. 30, 2026, 9:15",
        "Last delivered at",
        "Last error",
    ):
        assert shown in html, shown
    first, second = sorted([shop, bank], key=lambda key: f"key:{key.prefix}")  # grouped by key
    assert html.index(f"{first.name} ({first.prefix})") < html.index(f"{second.name} ({second.prefix})")
    assert SECRET not in html
    only_shop = client.get(reverse("admin:webhooks_webhookendpoint_changelist"), {"client": f"key:{shop.prefix}"})
    assert "shop.example.com" in only_shop.content.decode() and "bank.example.com" not in only_shop.content.decode()


@pytest.mark.django_db(databases=["default"])
def test_staff_see_which_endpoints_are_disabled_and_enable_them(client):
    client_id = f"key:{ApiKeyFactory(name='shop').prefix}"
    off = WebhookEndpoint.objects.create(
        client=client_id,
        url="https://shop.example.com/off",
        events=["message.sent"],
        secret=SECRET,
        failing_since=datetime(2026, 12, 1, tzinfo=UTC),
        disabled_at=datetime(2026, 12, 6, tzinfo=UTC),
        disabled_reason="every post failed since 2026-12-01T00:00:00Z; the last: HTTP 410: refused",
    )
    on = WebhookEndpoint.objects.create(
        client=client_id, url="https://shop.example.com/on", events=["message.sent"], secret=SECRET
    )
    client.force_login(User.objects.create_user("ops", is_staff=True, is_superuser=True))
    changelist = reverse("admin:webhooks_webhookendpoint_changelist")

    only_disabled = client.get(changelist, {"disabled_at__isnull": "False"}).content.decode()
    assert "shop.example.com/off" in only_disabled and "shop.example.com/on" not in only_disabled
    assert 'alt="True"' in only_disabled  # the `disabled` column
    detail = client.get(reverse("admin:webhooks_webhookendpoint_change", args=[off.pk])).content.decode()
    assert "HTTP 410: refused" in detail

    response = client.post(changelist, {"action": "enable", "_selected_action": [str(off.pk), str(on.pk)]})
    assert response.status_code == 302
    off.refresh_from_db()
    assert (off.disabled, off.disabled_reason, off.failing_since) == (False, "", None)
    assert "1 endpoint(s) enabled." in client.get(response["Location"]).content.decode()

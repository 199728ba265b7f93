"""Provider webhooks are closed until their secret is configured.

anymail's webhooks (`/api/v1/providers/anymail/…`) without ANYMAIL_WEBHOOK_SECRET would take anyone's
made-up bounce (anymail only warns), and Twilio's (`/api/v1/providers/twilio/…`) cannot check a
signature without TWILIO_AUTH_TOKEN. Until then each answers the API's 404, as a path that does not
exist: the route is not there to probe. Checked per request (not when the URLs load) so a setting
changed in a test, or a process restarted with the secret, opens it.

A provider in use without its secret is a system check warning (`manage.py check`, `migrate`,
`runserver`) and, since gunicorn runs no checks, logged when the API starts (config.wsgi). Production
settings refuse to start instead (config.provider_secrets).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core import checks
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.views.decorators.csrf import csrf_exempt

from config.provider_secrets import esp_in_use, twilio_in_use
from router.views.not_found import api_not_found

CHECK_TAG = "provider_webhooks"
View = Callable[..., HttpResponse]


def anymail_webhooks_open() -> bool:
    return bool(settings.ANYMAIL.get("WEBHOOK_SECRET"))


def twilio_webhooks_open() -> bool:
    return bool(settings.TWILIO_AUTH_TOKEN)


def closed_unless(is_open: Callable[[], bool]) -> Callable[[View], View]:
    """The view, answering the API's 404 while `is_open()` is false."""

    def decorate(view: View) -> View:
        @csrf_exempt  # as the providers' views are: they post without a CSRF token
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not is_open():
                return api_not_found(request)
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def anymail_urls() -> tuple[list[URLPattern | URLResolver], str]:
    """anymail's routes (for include(); reversed as `anymail:…` as before), each closed without the secret."""
    from anymail import urls

    guard = closed_unless(anymail_webhooks_open)
    patterns: list[URLPattern | URLResolver] = [
        URLPattern(route.pattern, guard(route.callback), route.default_args, route.name)
        for route in urls.urlpatterns
        if isinstance(route, URLPattern)
    ]
    return patterns, urls.app_name


@checks.register(CHECK_TAG)
def provider_webhook_secrets_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    warnings: list[checks.CheckMessage] = []
    if esp_in_use(settings.EMAIL_DELIVERY_BACKEND) and not anymail_webhooks_open():
        warnings.append(
            checks.Warning(
                f"ANYMAIL_WEBHOOK_SECRET is not set: EMAIL_DELIVERY_BACKEND is {settings.EMAIL_DELIVERY_BACKEND}, "
                "but its tracking webhooks (/api/v1/providers/anymail/<esp>/tracking/) answer 404, so no "
                "bounce, complaint or delivery receipt arrives.",
                hint="Set ANYMAIL_WEBHOOK_SECRET=user:password and give the ESP that basic auth in the webhook URL.",
                id="router.W001",
            )
        )
    if twilio_in_use([settings.SMS_PROVIDER, settings.WHATSAPP_PROVIDER]) and not twilio_webhooks_open():
        warnings.append(
            checks.Warning(
                "TWILIO_AUTH_TOKEN is not set: SMS or WhatsApp goes through Twilio, but its webhooks "
                "(/api/v1/providers/twilio/status and /inbound) answer 404, so no receipt, STOP or START arrives.",
                hint="Set TWILIO_AUTH_TOKEN to the account's auth token (it checks X-Twilio-Signature).",
                id="router.W002",
            )
        )
    return warnings

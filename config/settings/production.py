"""Production settings: everything from base, with the unsafe defaults refused.

Importing this module raises ImproperlyConfigured (so no process starts) when DEBUG is on, the
secret key is missing, the development default, or too weak to sign sessions and CSRF tokens, or a
provider in use has no secret for its webhooks (they would stay closed: no receipt, no opt-out would
ever arrive). `/metrics` on the API's port answers only a bearer of METRICS_TOKEN (none set: 404).
"""

from django.core.exceptions import ImproperlyConfigured

from config.provider_secrets import esp_in_use, twilio_in_use

from .base import *  # noqa: F403
from .base import (
    ANYMAIL,
    DEV_SECRET_KEY,
    EMAIL_DELIVERY_BACKEND,
    SMS_PROVIDER,
    TWILIO_AUTH_TOKEN,
    WHATSAPP_PROVIDER,
    env,
)

# Django's own deploy check (security.W009) asks for this much: shorter keys are guessable.
SECRET_KEY_MIN_CHARS = 50
SECRET_KEY_MIN_UNIQUE_CHARS = 5


def _refuse_weak_secret_key(key: str) -> str:
    if not key:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set with config.settings.production.")
    if key == DEV_SECRET_KEY or key.startswith("django-insecure-"):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is the development default; set a random one for config.settings.production."
        )
    if len(key) < SECRET_KEY_MIN_CHARS or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARS:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is too short or too simple for config.settings.production: use at least "
            f"{SECRET_KEY_MIN_CHARS} random characters (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    return key


DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Webhook endpoints on loopback or private addresses: refused unless explicitly allowed.
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
if DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off with config.settings.production.")
SECRET_KEY = _refuse_weak_secret_key(env("DJANGO_SECRET_KEY", default=""))
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True

if esp_in_use(EMAIL_DELIVERY_BACKEND) and not ANYMAIL["WEBHOOK_SECRET"]:
    raise ImproperlyConfigured(
        f"ANYMAIL_WEBHOOK_SECRET must be set with config.settings.production when EMAIL_DELIVERY_BACKEND is "
        f"{EMAIL_DELIVERY_BACKEND}: the ESP's tracking webhooks take it as basic auth (user:password) and "
        "stay closed without it."
    )
if twilio_in_use([SMS_PROVIDER, WHATSAPP_PROVIDER]) and not TWILIO_AUTH_TOKEN:
    raise ImproperlyConfigured(
        "TWILIO_AUTH_TOKEN must be set with config.settings.production when SMS_PROVIDER or WHATSAPP_PROVIDER "
        "is twilio: it checks the signature of Twilio's status callbacks and inbound messages, whose "
        "webhooks stay closed without it."
    )
# /metrics on the API's port only to `Authorization: Bearer <METRICS_TOKEN>`; none set: no /metrics (404).
METRICS_TOKEN_REQUIRED = True

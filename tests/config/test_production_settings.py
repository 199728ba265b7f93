"""config.settings.production refuses to start with DEBUG on, a missing, default or weak secret key, or
a provider in use whose webhooks have no secret.

Each case imports the settings module in a fresh interpreter with only the given environment, as a
process starting in production would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"  # 50 characters, many distinct
BASE_ENV = {"DJANGO_ALLOWED_HOSTS": "comms.example.com", "DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_DEBUG": "false"}


def import_production_settings(
    code: str = "import config.settings.production as s; print('DEBUG', s.DEBUG)", **env: str
) -> subprocess.CompletedProcess:
    # Only the interpreter's basics: no DJANGO_* variable of the test run leaks in.
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "LOG_"))}
    environment = {**clean, **BASE_ENV, **env}
    environment = {name: value for name, value in environment.items() if value != "<unset>"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_starts_with_debug_off_and_a_strong_key():
    result = import_production_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "DEBUG False"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG must be off with config.settings.production"),
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG must be off"),
        ({"DJANGO_SECRET_KEY": "<unset>"}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": "dev-insecure-change-me"}, "DJANGO_SECRET_KEY is the development default"),
        ({"DJANGO_SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "development default"),
        ({"DJANGO_SECRET_KEY": "change-me-in-production"}, "too short or too simple"),
        ({"DJANGO_SECRET_KEY": "ab" * 40}, "too short or too simple"),
    ],
    ids=[
        "debug-true",
        "debug-1",
        "key-missing",
        "key-empty",
        "key-default",
        "key-django-insecure",
        "key-short",
        "key-simple",
    ],
)
def test_refuses_to_start(env, message):
    result = import_production_settings(**env)
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert message in result.stderr


# A provider whose webhooks would stay closed (router.provider_webhooks): its receipts and opt-outs
# would never arrive, so production refuses to start rather than run without them.
NO_PROVIDER_SECRETS = {"ANYMAIL_WEBHOOK_SECRET": "<unset>", "TWILIO_AUTH_TOKEN": "<unset>"}
POSTMARK = "anymail.backends.postmark.EmailBackend"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EMAIL_DELIVERY_BACKEND": POSTMARK}, "ANYMAIL_WEBHOOK_SECRET must be set"),
        ({"EMAIL_DELIVERY_BACKEND": POSTMARK, "ANYMAIL_WEBHOOK_SECRET": ""}, "ANYMAIL_WEBHOOK_SECRET must be set"),
        ({"SMS_PROVIDER": "twilio"}, "TWILIO_AUTH_TOKEN must be set"),
        ({"WHATSAPP_PROVIDER": "twilio", "TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN must be set"),
    ],
    ids=["esp-no-secret", "esp-empty-secret", "sms-twilio-no-token", "whatsapp-twilio-empty-token"],
)
def test_refuses_to_start_with_a_provider_and_no_webhook_secret(env, message):
    result = import_production_settings(**{**NO_PROVIDER_SECRETS, **env})
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_starts_with_providers_and_their_webhook_secrets():
    result = import_production_settings(
        EMAIL_DELIVERY_BACKEND=POSTMARK,
        ANYMAIL_WEBHOOK_SECRET="postmark:" + "s" * 24,
        SMS_PROVIDER="twilio",
        WHATSAPP_PROVIDER="twilio",
        TWILIO_AUTH_TOKEN="t" * 32,
    )
    assert result.returncode == 0, result.stderr


def test_metrics_need_a_token_in_production():
    code = "import config.settings.production as s; print(s.METRICS_TOKEN_REQUIRED, repr(s.METRICS_TOKEN))"
    result = import_production_settings(METRICS_TOKEN="<unset>", code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ''"

"""A channel's provider list as its settings write it: EMAIL_URL's URLs, SMS/WHATSAPP_PROVIDER's names.
A list that does not parse stops the process, naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from delivery.provider_lists import ProviderChoice, email_providers, named_providers

PATH = "email_service.providers.EmailBackendProvider"
NAMES = {"simulator": "sms_service.providers.SimulatedSmsProvider", "twilio": "sms_service.providers.TwilioSmsProvider"}


def test_email_urls_separated_by_whitespace_in_order_named_without_credentials():
    choices = email_providers("smtp://a:25 \n smtp+tls://user:p%40ss@b.example:587\tsmtp+ssl://c", provider_path=PATH)
    assert [choice.name for choice in choices] == ["smtp://a:25", "smtp+tls://b.example:587", "smtp+ssl://c"]
    assert choices[1].options == {
        "connection": {"host": "b.example", "port": 587, "username": "user", "password": "p@ss", "use_tls": True}
    }
    assert choices[2].options["connection"]["use_ssl"] is True
    assert email_providers("", provider_path=PATH) == []


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("smtp://a:25,smtp://b:25", "is not a URL"),  # commas: a port that is no number
        ("http://a:25", "scheme 'http'"),
        ("smtp://:25", "names no host"),
        ("smtp://a:25 smtp://a:25", "named twice"),
        ("smtp://a:25/path", "only scheme://"),
        ("a.example:25", "scheme"),
    ],
)
def test_an_email_url_list_that_does_not_parse_is_refused_naming_the_setting(raw, says):
    with pytest.raises(ImproperlyConfigured, match=f"EMAIL_URL: .*{says}"):
        email_providers(raw, provider_path=PATH)


def test_an_error_never_shows_a_password():
    with pytest.raises(ImproperlyConfigured) as raised:
        email_providers("ftp://user:hunter2@a:25", provider_path=PATH)
    assert "hunter2" not in str(raised.value)


def test_provider_names_separated_by_commas_in_order():
    assert named_providers(" twilio , simulator", names=NAMES, setting="SMS_PROVIDER") == [
        ProviderChoice(name="twilio", path=NAMES["twilio"]),
        ProviderChoice(name="simulator", path=NAMES["simulator"]),
    ]
    assert named_providers("my.module.Provider", names=NAMES, setting="SMS_PROVIDER")[0].path == "my.module.Provider"


@pytest.mark.parametrize("raw", ["", "twilio,", "twilio simulator", "twilio,,simulator", "twillio", "twilio,twilio"])
def test_a_provider_list_that_does_not_parse_is_refused_naming_the_setting(raw):
    with pytest.raises(ImproperlyConfigured, match="SMS_PROVIDER"):
        named_providers(raw, names=NAMES, setting="SMS_PROVIDER")


def test_a_worker_with_a_bad_list_refuses_to_start_naming_the_setting():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "WHATSAPP_PROVIDER": "twilio;simulator"}
    done = subprocess.run(
        [sys.executable, "manage.py", "consume", "whatsapp"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "WHATSAPP_PROVIDER" in done.stderr

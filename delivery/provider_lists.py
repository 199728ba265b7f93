"""A channel's providers, in order, as its settings name them: `EMAIL_URL` (URLs separated by
whitespace), `SMS_PROVIDER` / `WHATSAPP_PROVIDER` (names separated by commas), and their
`<CHANNEL>_RATE_LIMIT`. config.settings keeps these as the environment gives them; they are parsed
here when a channel registers (every process's start-up, delivery.registry), so a value that does
not parse stops the process with ImproperlyConfigured naming the setting, never falls back to a default.

More than one provider makes the channel fail over from one to the next (delivery.failover).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from delivery.rates import Rate, rates_per_provider

# The schemes EMAIL_URL takes: SMTP plain, STARTTLS (smtp+tls, or smtps as django-environ reads it), TLS.
_SMTP_SCHEMES = {"smtp": {}, "smtp+tls": {"use_tls": True}, "smtps": {"use_tls": True}, "smtp+ssl": {"use_ssl": True}}


@dataclass(frozen=True)
class ProviderChoice:
    """One provider of a channel: the name its deliveries record, its Provider class (dotted path)
    and the keyword arguments that class is built with."""

    name: str
    path: str
    options: Mapping[str, Any] = field(default_factory=dict)


def email_url_connection(url: str, *, setting: str = "EMAIL_URL") -> tuple[str, dict[str, Any]]:
    """One SMTP URL → (its name: scheme://host:port, never the credentials; the keyword arguments of
    Django's SMTP EmailBackend). Raises ImproperlyConfigured naming the setting."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ImproperlyConfigured(f"{setting}: {_masked(url)!r} is not a URL ({error})") from None
    if parts.scheme not in _SMTP_SCHEMES:
        known = ", ".join(f"{scheme}://" for scheme in _SMTP_SCHEMES)
        raise ImproperlyConfigured(f"{setting}: {_masked(url)!r} has scheme {parts.scheme!r}; use one of {known}")
    if not parts.hostname:
        raise ImproperlyConfigured(f"{setting}: {_masked(url)!r} names no host (write e.g. smtp://host:25)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"{setting}: {_masked(url)!r}: only scheme://user:password@host:port is read")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    name = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    connection: dict[str, Any] = {
        "host": parts.hostname,
        "username": _unquoted(parts.username),
        "password": _unquoted(parts.password),
        **_SMTP_SCHEMES[parts.scheme],
    }
    if port is not None:
        connection["port"] = port
    return name, connection


def email_providers(raw: str, *, provider_path: str, setting: str = "EMAIL_URL") -> list[ProviderChoice]:
    """EMAIL_URL's providers, one per URL, in order (empty: none configured)."""
    choices = []
    for url in raw.split():
        name, connection = email_url_connection(url, setting=setting)
        choices.append(ProviderChoice(name=name, path=provider_path, options={"connection": connection}))
    _refuse_duplicates(choices, setting)
    return choices


def named_providers(raw: str, *, names: Mapping[str, str], setting: str) -> list[ProviderChoice]:
    """`twilio,simulator`: each a name of `names` or a dotted path to a Provider class, in order."""
    items = [item.strip() for item in raw.split(",")]
    if not any(items) or not all(items):
        raise ImproperlyConfigured(
            f"{setting}: {raw!r} is not a list of providers (write e.g. {','.join(names) or 'simulator'})"
        )
    choices = []
    for item in items:
        if item in names:
            choices.append(ProviderChoice(name=item, path=names[item]))
        elif "." in item and all(part.isidentifier() for part in item.split(".")):
            choices.append(ProviderChoice(name=item, path=item))
        else:
            known = ", ".join(names)
            raise ImproperlyConfigured(f"{setting}: unknown provider {item!r} (one of {known}, or a dotted path)")
    _refuse_duplicates(choices, setting)
    return choices


def named_providers_setting(setting: str, names: Mapping[str, str]) -> Callable[[], list[ProviderChoice]]:
    """A channel's providers as the setting `setting` names them, read from the settings when called."""

    def choices() -> list[ProviderChoice]:
        return named_providers(getattr(settings, setting), names=names, setting=setting)

    return choices


def channel_rate_limits(*, channel: str, providers: list[str]) -> dict[str, Rate]:
    """The channel's `<CHANNEL>_RATE_LIMIT` (settings.DELIVERY_RATE_LIMITS), per provider; one that
    does not parse raises ImproperlyConfigured naming it."""
    name = f"{channel.upper()}_RATE_LIMIT"
    try:
        return rates_per_provider(settings.DELIVERY_RATE_LIMITS.get(channel, ""), providers)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None


def _refuse_duplicates(choices: list[ProviderChoice], setting: str) -> None:
    # The same provider twice would fail over to itself: surely a typo.
    seen: set[str] = set()
    for choice in choices:
        if choice.name in seen:
            raise ImproperlyConfigured(f"{setting}: {choice.name!r} is named twice")
        seen.add(choice.name)


def _unquoted(text: str | None) -> str:
    return unquote(text) if text else ""


def _masked(url: str) -> str:
    """The URL as an error may show it: its password replaced."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{location}"

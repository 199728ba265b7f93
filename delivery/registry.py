"""The channel registry: each channel app registers what differs (models, recipient rule) from its
AppConfig.ready(); the worker, the admin and the operator commands look channels up here. It imports
nothing of the worker (delivery.runner registers the worker beside the channel), so the modules the
worker is made of may import it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import router
from django.utils.module_loading import import_string

from delivery.failover import BreakerPolicy, FailoverProvider
from delivery.models import DeliveryAttempt, DeliveryRecord, ProviderPace, SimulatedSend, Suppression
from delivery.provider_lists import ProviderChoice, channel_rate_limits
from delivery.providers import Provider
from delivery.rates import Rate
from messaging.channels import Channel
from messaging.envelope import MessageEnvelope


@dataclass(frozen=True)
class ChannelSpec:
    channel: Channel
    record_model: type[DeliveryRecord]
    attempt_model: type[DeliveryAttempt]
    ledger_model: type[SimulatedSend]
    suppression_model: type[Suppression]
    pace_model: type[ProviderPace]
    validate_recipient: Callable[[str], None]
    # The channel's providers, in order, as its settings name them (read when called: a test may
    # change the settings); raises ImproperlyConfigured naming a setting that does not parse.
    provider_choices: Callable[[], list[ProviderChoice]]
    # What one message costs against the provider's rate: 1 an email, its segments for SMS/WhatsApp.
    rate_cost: Callable[[MessageEnvelope], int] = lambda envelope: 1

    @property
    def service_name(self) -> str:
        """Names the consumer group and the `service.name` of its log events."""
        return f"{self.channel.value}_service"

    @property
    def database(self) -> str:
        return router.db_for_write(self.record_model)

    def rate_limits(self) -> dict[str, Rate]:
        """Each provider's `<CHANNEL>_RATE_LIMIT` (none: no limit); ImproperlyConfigured naming a
        setting that does not parse."""
        return channel_rate_limits(channel=self.channel.value, providers=[c.name for c in self.provider_choices()])

    def build_provider(self) -> Provider:
        """The providers the channel's settings name (`<CHANNEL>_PROVIDER`, `EMAIL_URL`), in
        order; several fail over from one to the next (delivery.failover). Raises ImproperlyConfigured
        for breaker settings that do not parse, even with one provider: a typo is found at once."""
        policy = BreakerPolicy.for_channel(self.channel.value)
        providers = []
        for choice in self.provider_choices():
            provider_class: type[Provider] = import_string(choice.path)
            provider = provider_class(**choice.options)
            provider.name = choice.name
            providers.append(provider)
        if len(providers) == 1:
            return providers[0]
        return FailoverProvider(providers, channel=self.channel.value, policy=policy)


_registry: dict[Channel, ChannelSpec] = {}


def register(spec: ChannelSpec) -> None:
    """delivery.runner.channel_register calls this from a channel app's AppConfig.ready()."""
    spec.rate_limits()  # every process's start-up: a provider or rate setting that does not parse stops it
    _registry[spec.channel] = spec


def get_channel(channel: Channel | str) -> ChannelSpec:
    try:
        return _registry[Channel(channel)]
    except (KeyError, ValueError):
        known = ", ".join(sorted(c.value for c in _registry))
        raise LookupError(f"unknown channel {channel!r} (registered: {known})") from None


def registered_channels() -> list[ChannelSpec]:
    return [_registry[channel] for channel in Channel if channel in _registry]

"""WhatsApp providers, selected with WHATSAPP_PROVIDER: `simulator` (the default) or `twilio`
(delivery.twilio); any other delivery.providers.Provider by its dotted path."""

from delivery.simulator import SimulatedProvider
from delivery.twilio import WHATSAPP_ADDRESS_PREFIX, TwilioProvider
from messaging.channels import Channel
from whatsapp_service.models import WhatsAppSimulatedSend


class SimulatedWhatsAppProvider(SimulatedProvider):
    channel = Channel.WHATSAPP
    ledger_model = WhatsAppSimulatedSend


class TwilioWhatsAppProvider(TwilioProvider):
    """WHATSAPP_PROVIDER=twilio: Twilio's Messages API, both addresses as `whatsapp:+…`."""

    address_prefix = WHATSAPP_ADDRESS_PREFIX
    sender_setting = "TWILIO_WHATSAPP_FROM"

"""WhatsApp providers. The simulator is the default; a real one (Meta Cloud API) implements
delivery.providers.Provider and is selected with WHATSAPP_PROVIDER."""

from delivery.simulator import SimulatedProvider
from messaging.channels import Channel
from whatsapp_service.models import WhatsAppSimulatedSend


class SimulatedWhatsAppProvider(SimulatedProvider):
    channel = Channel.WHATSAPP
    ledger_model = WhatsAppSimulatedSend

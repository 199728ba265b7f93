"""SMS providers. The simulator is the default; a real one (Twilio, Vonage) implements
delivery.providers.Provider and is selected with SMS_PROVIDER."""

from delivery.simulator import SimulatedProvider
from messaging.channels import Channel
from sms_service.models import SmsSimulatedSend


class SimulatedSmsProvider(SimulatedProvider):
    channel = Channel.SMS
    ledger_model = SmsSimulatedSend

"""SMS providers, selected with SMS_PROVIDER: `simulator` (the default) or `twilio` (delivery.twilio);
any other delivery.providers.Provider by its dotted path."""

from delivery.simulator import SimulatedProvider
from delivery.twilio import TwilioProvider
from messaging.channels import Channel
from sms_service.models import SmsSimulatedSend


class SimulatedSmsProvider(SimulatedProvider):
    channel = Channel.SMS
    ledger_model = SmsSimulatedSend


class TwilioSmsProvider(TwilioProvider):
    """SMS_PROVIDER=twilio: Twilio's Messages API from TWILIO_SMS_FROM."""

    sender_setting = "TWILIO_SMS_FROM"

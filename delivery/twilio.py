"""SMS and WhatsApp through Twilio's Messages API, with the official `twilio` library. The channel apps
hold only what differs (sms_service.providers, whatsapp_service.providers): the address prefix and
the sender setting.

Settings (env): TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_SMS_FROM / TWILIO_WHATSAPP_FROM (or
TWILIO_MESSAGING_SERVICE_SID), TWILIO_TIMEOUT_SECONDS, and TWILIO_API_BASE_URL: empty for Twilio
itself; a local server speaking Twilio's API in tests, reached through the library's own HTTP-client
hook (`Client(http_client=…)`).
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from delivery.errors import (
    PermanentProviderError,
    ProviderError,
    ProviderThrottled,
    RecipientUnsubscribed,
    TransientProviderError,
)
from delivery.providers import Provider, SendRequest, SendResult
from delivery.retry_after import retry_after_seconds
from messaging.channels import Channel

# Twilio error codes that no retry can fix (https://www.twilio.com/docs/api/errors).
PERMANENT_CODES = {
    21211: "invalid 'To' number",
    21408: "sending to this region is not enabled",
    21606: "the 'From' number cannot send this message",
    21610: "the recipient unsubscribed (replied STOP)",
    21612: "the 'To' number is not reachable via this sender",
    21614: "the 'To' number is not a mobile number",
    21659: "the 'From' number is not a Twilio number",
    63003: "the WhatsApp recipient is not a WhatsApp user",
    63016: "outside the WhatsApp 24-hour window: a template message is needed",
}
UNSUBSCRIBED_CODE = 21610  # the recipient replied STOP: put on the suppression list too
# Codes Twilio answers with a 4xx that may still succeed later.
TRANSIENT_CODES = {30001: "queue overflow"}
# Twilio asking us to slow down: not a failed attempt (with HTTP 429, whatever its code).
THROTTLING_CODES = {20429: "too many requests", 14107: "message rate limit exceeded"}


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client; with a base URL, every request goes there instead of Twilio's hosts."""

    def __init__(self, *, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        # The library's error keeps no headers: the last answer is where a 429's Retry-After is read.
        # One client per thread (TwilioProvider._client), so "last" is this thread's call.
        self.last_response: Response | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base_url:
            url = re.sub(r"^https://[^/]+", self.base_url, url)
        self.last_response = None
        self.last_response = super().request(method, url, *args, **kwargs)
        return self.last_response


def classify(error: TwilioRestException, *, retry_after: str | None = None) -> ProviderError:
    """HTTP 429 and Twilio's rate codes ask us to slow down (ProviderThrottled, with the `Retry-After`
    header's hint); server errors are transient; a known permanent code, or any other 4xx, is not."""
    code = error.code or 0
    known = PERMANENT_CODES.get(code) or TRANSIENT_CODES.get(code) or THROTTLING_CODES.get(code)
    text = f"Twilio {error.status} error {code}: {known or error.msg}"
    if code in THROTTLING_CODES or error.status == 429:
        return ProviderThrottled(text, retry_after=retry_after_seconds(retry_after))
    if code in TRANSIENT_CODES or error.status >= 500:
        return TransientProviderError(text)
    if code == UNSUBSCRIBED_CODE:
        return RecipientUnsubscribed(text)
    return PermanentProviderError(text)


# The StatusCallback URL of each send names our message: a receipt that comes back before the worker
# has written the SID it got (Twilio posts while our call returns) still finds its record.
CALLBACK_MESSAGE_ID = "messageId"


WHATSAPP_ADDRESS_PREFIX = "whatsapp:"  # Twilio's WhatsApp addresses; SMS numbers carry none


def twilio_address_split(address: str) -> tuple[Channel, str]:
    """The channel of a Twilio address (as its callbacks give `To`/`From`) and the number in it."""
    if address.startswith(WHATSAPP_ADDRESS_PREFIX):
        return Channel.WHATSAPP, address.removeprefix(WHATSAPP_ADDRESS_PREFIX)
    return Channel.SMS, address


def status_callback_url(base: str, message_id: uuid.UUID) -> str:
    parts = urlsplit(base)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (CALLBACK_MESSAGE_ID, str(message_id))]
    return urlunsplit(parts._replace(query=urlencode(query)))


class TwilioProvider(Provider):
    """One `messages.create` per send; the message SID is the provider message id. Twilio takes no
    idempotency key, so `idempotent` stays False (ON_UNKNOWN_OUTCOME decides after a crash)."""

    address_prefix: ClassVar[str] = ""  # WHATSAPP_ADDRESS_PREFIX for WhatsApp
    sender_setting: ClassVar[str]  # the settings name of this channel's sender number

    def __init__(self) -> None:
        self.account_sid = settings.TWILIO_ACCOUNT_SID
        self.auth_token = settings.TWILIO_AUTH_TOKEN
        self.sender = getattr(settings, self.sender_setting)
        self.messaging_service_sid = settings.TWILIO_MESSAGING_SERVICE_SID
        if not (self.account_sid and self.auth_token and (self.sender or self.messaging_service_sid)):
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                f"{self.sender_setting} (or TWILIO_MESSAGING_SERVICE_SID)"
            )
        self._local = threading.local()  # a client (and its HTTP session) per provider thread

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            http = BaseUrlHttpClient(base_url=settings.TWILIO_API_BASE_URL, timeout=settings.TWILIO_TIMEOUT_SECONDS)
            client = self._local.client = Client(self.account_sid, self.auth_token, http_client=http)
        return client

    def send(self, request: SendRequest) -> SendResult:
        params: dict[str, Any] = {"to": self.address_prefix + request.to, "body": request.body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.address_prefix + self.sender.removeprefix(self.address_prefix)
        if settings.TWILIO_STATUS_CALLBACK_URL:
            params["status_callback"] = status_callback_url(settings.TWILIO_STATUS_CALLBACK_URL, request.message_id)
        try:
            message = self._client().messages.create(**params)
        except TwilioRestException as error:
            answer = self._client().http_client.last_response
            headers = answer.headers if answer is not None and answer.headers is not None else {}
            raise classify(error, retry_after=headers.get("Retry-After")) from error
        except (TwilioException, OSError) as error:  # connection refused, timeouts (requests' errors are OSErrors)
            raise TransientProviderError(f"Twilio unreachable: {error}") from error
        return SendResult(provider_message_id=str(message.sid))

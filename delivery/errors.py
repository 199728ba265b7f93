"""Provider errors, as types. The channel worker is the one place that decides what happens to each:
transient → retry topic (until attempts run out), permanent → DLQ at once."""


class ProviderError(Exception):
    """A send did not happen. Subclasses say whether trying again can help."""

    @property
    def type_name(self) -> str:
        return type(self).__name__


class TransientProviderError(ProviderError):
    """Timeouts, throttling, 5xx: the same request may succeed later."""


class ProviderThrottled(TransientProviderError):
    """The provider asks us to slow down (SMTP 421/451/454 with a 4.7.x enhanced code, HTTP 429,
    Twilio 20429/14107): not a failed attempt. The worker lowers its rate and tries the message
    again later without spending an attempt; `retry_after` is the provider's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    """The request can never succeed as it is (bad recipient, rejected content): dead-letter it."""


class InvalidRecipient(PermanentProviderError):
    """The recipient fails the channel's validation; decided before any provider call."""


class RecipientUnsubscribed(PermanentProviderError):
    """The provider refuses the recipient because they opted out (Twilio 21610): suppressed from then on."""

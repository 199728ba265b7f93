"""Provider errors, as types. The channel worker is the one place that decides what happens to each:
transient → retry topic (until attempts run out), permanent → DLQ at once."""


class ProviderError(Exception):
    """A send did not happen. Subclasses say whether trying again can help."""

    @property
    def type_name(self) -> str:
        return type(self).__name__


class TransientProviderError(ProviderError):
    """Timeouts, throttling, 5xx: the same request may succeed later."""


class PermanentProviderError(ProviderError):
    """The request can never succeed as it is (bad recipient, rejected content): dead-letter it."""


class InvalidRecipient(PermanentProviderError):
    """The recipient fails the channel's validation; decided before any provider call."""


class RecipientUnsubscribed(PermanentProviderError):
    """The provider refuses the recipient because they opted out (Twilio 21610): suppressed from then on."""

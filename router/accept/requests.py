"""A message request from its JSON: the channel picks the rules (router.accept.rules), a template is
rendered into literal content first (router.accept.rendering), and what passes is a MessageRequest.
Plain Python, no DRF: the API's serializers and any leaner path call `message_request_validate`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from messaging.channels import Channel
from messaging.priorities import Priority
from router.accept.prepare import envelope_fits_check
from router.accept.rendering import TemplateSource, no_templates, template_blamed, template_content
from router.accept.rules import ALLOWED_CHANNELS, REQUIRED, InvalidMessage, excerpt, message_fields_check
from router.domain import MessageRequest

_CHANNELS = frozenset(channel.value for channel in Channel)


def message_channel(data: Any) -> Channel:
    """The request's channel, which decides every other rule; raises InvalidMessage."""
    if not isinstance(data, Mapping):
        raise InvalidMessage({"non_field_errors": ["Expected a JSON object."]})
    channel = data.get("channel")
    # isinstance first: a JSON object or array as `channel` is unhashable.
    if not isinstance(channel, str) or channel not in _CHANNELS:
        message = (
            REQUIRED
            if channel is None
            else f"{excerpt(channel)} is not a valid channel; allowed values: {ALLOWED_CHANNELS}."
        )
        # The other fields' rules depend on the channel, so there is nothing more to check.
        raise InvalidMessage({"channel": [message]})
    return Channel(channel)


def message_request_validate(data: Any, *, templates: TemplateSource = no_templates) -> MessageRequest:
    """Validate one message request; raises InvalidMessage (field → messages). A request naming a
    template is rendered first and its result validated like literal content, so the channel's limits
    hold for it too, and so does what Kafka can carry (checked where the envelope is made)."""
    channel = message_channel(data)
    template_use = None
    if "template" in data:
        data, template_use = template_content(data, channel, templates)
        try:
            valid = message_fields_check(channel, data)
        except InvalidMessage as error:
            raise template_blamed(error, channel) from None
    else:
        valid = message_fields_check(channel, data)
    request = MessageRequest(
        channel=channel,
        to=valid["to"],
        body=valid["body"],
        subject=valid.get("subject"),
        metadata=valid.get("metadata", MappingProxyType({})),
        html=valid.get("html"),
        send_at=valid.get("sendAt"),
        expires_at=valid.get("expiresAt"),
        priority=valid.get("priority", Priority.NORMAL),
        template=template_use,
    )
    envelope_fits_check(request)
    return request

"""OpenAPI extensions (loaded by RouterConfig.ready): the `Api-Key` scheme of router.authentication and
the strictness of request serializers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.utils import Direction

from messaging.lifecycle import MessageStatus

# One named enum of statuses (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]), labelled as the fields are.
MESSAGE_STATUS_CHOICES = [(status.value, status.value) for status in MessageStatus]


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "router.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create a key with `bin/manage create_api_key <name>`.",
        }


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Request objects of a StrictSerializer refuse unknown fields; the schema says so."""

    target_class = "router.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Direction) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema

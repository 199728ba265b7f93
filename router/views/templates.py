"""/api/v1/templates: message content with variables, per API key (router.accept.rendering renders it).

POST creates (201), GET lists; /api/v1/templates/{name}: GET, PUT (replaces the content, version + 1),
DELETE (204). A message names one with `{"template": name, "data": {...}}`.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from messaging.channels import Channel
from router.accept.rendering import template_syntax_errors
from router.accept.rules import CHANNEL_CONTENT
from router.models import CHANNEL_CHOICES, Template
from router.permissions import client_of
from router.selectors import template_get, templates_list
from router.serializers import StrictCharField, StrictSerializer
from router.template_store import TemplateNameTaken, template_create, template_delete, template_update
from router.views.base import RouterAPIView
from router.views.schema_docs import COMMON_ERRORS, POST_ERRORS, error_response

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# A template's source, within reason; all parts together, JSON-escaped, stay under the API's 1 MiB
# request limit (a character beyond U+FFFF is 12 bytes escaped), so an over-long one is a field error,
# not a 413.
SOURCE_MAX_CHARS = 32 * 1024
SUBJECT_SOURCE_MAX_CHARS = 2000
TEMPLATE_PARTS = ("subject", "body", "html")


class TemplateContentSerializer(StrictSerializer):
    """What PUT replaces: everything but the name (the URL's)."""

    name = serializers.CharField(read_only=True)
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES)
    subject = StrictCharField(
        required=False, max_length=SUBJECT_SOURCE_MAX_CHARS, help_text="Email: required. Jinja2 syntax, like `body`."
    )
    body = StrictCharField(
        trim_whitespace=False,
        max_length=SOURCE_MAX_CHARS,
        help_text="Jinja2 (sandboxed): `{{ name }}`, `{% if %}`, filters. A variable the data lacks is an error.",
    )
    html = StrictCharField(
        required=False, trim_whitespace=False, max_length=SOURCE_MAX_CHARS, help_text="Email only; autoescaped."
    )
    version = serializers.IntegerField(read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The channel's own message rules say which parts it has and needs (router.accept.rules).
        channel = Channel(attrs["channel"])
        content = CHANNEL_CONTENT[channel]
        errors: dict[str, list[str]] = {}
        for part in TEMPLATE_PARTS:
            if part in attrs and part not in content.fields:
                having = " and ".join(c.value for c in Channel if part in CHANNEL_CONTENT[c].fields)
                errors[part] = [f"Only {having} templates have one."]
            elif part in content.required and not attrs.get(part):
                errors[part] = [f"Required for {channel.value} templates."]
        parts = {part: attrs[part] for part in TEMPLATE_PARTS if part in attrs}
        errors.update(
            {name: messages for name, messages in template_syntax_errors(parts).items() if name not in errors}
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class TemplateSerializer(TemplateContentSerializer):
    name = StrictCharField(
        max_length=100, help_text="Letters, digits, `_`, `.` and `-`; unique per API key. Fixed once created."
    )

    def validate_name(self, value: str) -> str:
        if not _NAME.match(value):
            raise serializers.ValidationError("Use letters, digits, `_`, `.` and `-`, starting with a letter or digit.")
        return value


def _content(valid: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": valid["channel"],
        "subject": valid.get("subject", ""),
        "body": valid["body"],
        "html": valid.get("html", ""),
    }


def _data(template: Template) -> dict[str, Any]:
    """The template as the API shows it: the parts its channel has (html only when given)."""
    data = dict(TemplateSerializer(template).data)
    for part in TEMPLATE_PARTS:
        if part not in CHANNEL_CONTENT[Channel(template.channel)].fields:
            data.pop(part, None)
    if not data.get("html"):
        data.pop("html", None)
    return data


EXAMPLE = {
    "name": "order-shipped",
    "channel": "email",
    "subject": "Your order {{ order.id }} has shipped",
    "body": "Hello {{ name }}, your order is on its way.",
    "html": "<p>Hello {{ name }}, your order is <b>on its way</b>.</p>",
}


class TemplatesView(RouterAPIView):
    @extend_schema(
        operation_id="templates_list",
        summary="List templates",
        responses={200: TemplateSerializer(many=True), **COMMON_ERRORS},
    )
    def get(self, request: Request) -> Response:
        templates = templates_list(client=client_of(request))
        return Response([_data(template) for template in templates])

    @extend_schema(
        operation_id="templates_create",
        summary="Create a template",
        request=TemplateSerializer,
        responses={201: TemplateSerializer, 409: error_response("A template of that name exists."), **POST_ERRORS},
        examples=[OpenApiExample("Email template", value=EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        serializer = TemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            fields = {"name": serializer.validated_data["name"], **_content(serializer.validated_data)}
            template = template_create(client=client_of(request), fields=fields)
        except TemplateNameTaken as taken:
            return Response(
                {"name": [f"A template named {taken} exists: PUT /api/v1/templates/{taken} to change it."]}, status=409
            )
        return Response(_data(template), status=201)


class TemplateDetailView(RouterAPIView):
    def _template(self, request: Request, name: str) -> Template:
        template = template_get(client=client_of(request), name=name)
        if template is None:
            raise NotFound("No such template.")
        return template

    @extend_schema(
        operation_id="templates_retrieve",
        summary="Get a template",
        responses={200: TemplateSerializer, 404: error_response("No such template."), **COMMON_ERRORS},
    )
    def get(self, request: Request, name: str) -> Response:
        return Response(_data(self._template(request, name)))

    @extend_schema(
        operation_id="templates_update",
        summary="Replace a template",
        description="Replaces its content; the version goes up by one. Messages already accepted keep what they "
        "were rendered with.",
        request=TemplateContentSerializer,
        responses={200: TemplateSerializer, 404: error_response("No such template."), **POST_ERRORS},
    )
    def put(self, request: Request, name: str) -> Response:
        template = self._template(request, name)
        serializer = TemplateContentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(_data(template_update(template=template, fields=_content(serializer.validated_data))))

    @extend_schema(
        operation_id="templates_destroy",
        summary="Delete a template",
        responses={204: None, 404: error_response("No such template."), **COMMON_ERRORS},
    )
    def delete(self, request: Request, name: str) -> Response:
        template_delete(template=self._template(request, name))
        return Response(status=204)

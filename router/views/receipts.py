"""Twilio's webhooks: POST /api/v1/providers/twilio/status (StatusCallback: the delivery receipts of
SMS and WhatsApp messages sent through it) and POST /api/v1/providers/twilio/inbound (a recipient's
reply: STOP suppresses them, START lifts their opt-out); delivery.twilio_callbacks decides what each means.

No API key: Twilio signs each request with the account's auth token (`X-Twilio-Signature`, checked
with the library's RequestValidator); a bad or missing signature is a 403, and without
TWILIO_AUTH_TOKEN both routes answer 404 (router.provider_webhooks). The signature covers the
URL Twilio posted to: TWILIO_STATUS_CALLBACK_URL / TWILIO_INBOUND_URL when set (what Twilio was
told) with the query string it was given per message (delivery.twilio.status_callback_url), else the
URL as the API sees it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from twilio.request_validator import RequestValidator

from delivery.twilio import CALLBACK_MESSAGE_ID
from delivery.twilio_callbacks import twilio_reply_apply, twilio_status_apply
from router.kafka import channel_log

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioWebhookView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser]
    configured_url_setting = ""

    def signed_params(self, request: Request) -> dict[str, Any] | None:
        """The form fields, when Twilio's signature over them is valid; else None."""
        params = {key: request.data.get(key) for key in request.data}
        configured = getattr(settings, self.configured_url_setting)
        if configured:
            url = urlunsplit(urlsplit(configured)._replace(query=request.META.get("QUERY_STRING", "")))
        else:
            url = request.build_absolute_uri()
        token = settings.TWILIO_AUTH_TOKEN
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not RequestValidator(token).validate(url, params, signature):
            return None
        return params


FORBIDDEN = {"detail": "Invalid or missing X-Twilio-Signature."}


class TwilioStatusCallbackView(TwilioWebhookView):
    configured_url_setting = "TWILIO_STATUS_CALLBACK_URL"

    @extend_schema(exclude=True)  # Twilio's, not our clients'
    def post(self, request: Request) -> Response:
        params = self.signed_params(request)
        if params is None:
            return Response(FORBIDDEN, status=403)
        twilio_status_apply(
            message_status=str(params.get("MessageStatus", "")),
            message_sid=str(params.get("MessageSid") or ""),
            to=str(params.get("To", "")),
            error_code=str(params.get("ErrorCode") or ""),
            message_id=request.query_params.get(CALLBACK_MESSAGE_ID, ""),
            log_for=channel_log,
        )
        return Response(status=204)


class TwilioInboundMessageView(TwilioWebhookView):
    configured_url_setting = "TWILIO_INBOUND_URL"

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response | HttpResponse:
        params = self.signed_params(request)
        if params is None:
            return Response(FORBIDDEN, status=403)
        twilio_reply_apply(
            sender=str(params.get("From", "")),
            body=str(params.get("Body", "")),
            message_sid=str(params.get("MessageSid", "")),
        )
        # TwiML with nothing to say: Twilio sends no reply of ours (its own STOP answer still goes out).
        return HttpResponse(EMPTY_TWIML, content_type="text/xml")

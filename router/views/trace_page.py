"""`/messages/<id>`: a message's story as a page — its status, its delivery attempts and its timeline
of events — for staff signed in to the admin, or whoever holds the signed link the API gave the
sending key (router.trace_links). Plain Django template: no CDN, no JavaScript."""

from __future__ import annotations

import uuid

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from elastic_transport import TransportError
from elasticsearch import ApiError

from logging_service.timeline import message_timeline
from router.models import Message
from router.selectors import delivery_trace_get
from router.trace_links import trace_token_valid


def message_trace_page(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    token = request.GET.get("t", "")
    if not (request.user.is_staff or (token and trace_token_valid(token, message_id))):
        if token:
            return HttpResponseForbidden("This link is not valid (any more).")
        return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
    message = get_object_or_404(Message, pk=message_id)
    delivery = delivery_trace_get(message=message)
    attempts = delivery.attempts if delivery is not None else ()
    try:
        timeline = message_timeline(trace_id=message.trace_id, message_id=str(message.id))
        unavailable = False
    except (TransportError, ApiError):
        timeline, unavailable = None, True
    context = {
        "message": message,
        "delivery": delivery,
        "attempts": attempts,
        "timeline": timeline,
        "timeline_unavailable": unavailable,
    }
    return render(request, "router/message_trace.html", context)

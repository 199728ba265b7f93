"""The Celery + Redis peer: what a Django team would build instead of Kafka consumers.

Same work as the project's pipeline: DRF validates a message (Django's email validator,
`phonenumbers`), `send_message.delay()` puts it on Redis, a Celery worker (acks_late, prefetch 8)
simulates the send at 0 ms and records one delivery row in SQLite (WAL, `get_or_create` on the message
id). Run by bench.peer with a venv of its own (PEER_DB, PEER_BROKER from the environment); nothing of
the project is imported here.
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import Any

import django
from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="peer",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.contenttypes", "rest_framework", "peer_app"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.environ["PEER_DB"],
                "OPTIONS": {
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 30,
                },
            }
        },
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
        },
        USE_TZ=True,
    )
    sys.path.insert(0, HERE)
    django.setup()

import phonenumbers  # noqa: E402
from celery import Celery  # noqa: E402
from django.core.validators import validate_email  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402
from peer_app.models import Delivery  # noqa: E402
from rest_framework import serializers, status  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

app = Celery("peer", broker=os.environ["PEER_BROKER"])
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=8, task_serializer="json", task_ignore_result=True)


@app.task(name="send_message")
def send_message(msg: dict[str, Any]) -> None:
    # The simulated provider at 0 ms, then the delivery row (idempotent on the message id).
    Delivery.objects.get_or_create(
        message_id=msg["id"],
        defaults={
            "channel": msg["channel"],
            "to": msg["to"],
            "body": msg["body"],
            "status": "sent",
            "attempts": 1,
            "created_at": msg["createdAt"],
            "sent_at": timezone.now(),
        },
    )


class MessageIn(serializers.Serializer):
    channel = serializers.ChoiceField(["email", "sms", "whatsapp"])
    to = serializers.CharField(max_length=320)
    subject = serializers.CharField(max_length=998, required=False)
    body = serializers.CharField(max_length=4096)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["channel"] == "email":
            validate_email(data["to"])
        else:
            number = phonenumbers.parse(data["to"], None)
            if not phonenumbers.is_valid_number(number):
                raise serializers.ValidationError({"to": "not a valid E.164 number"})
        return data


class Messages(APIView):
    def post(self, request: Request) -> Response:
        incoming = MessageIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        msg = dict(incoming.validated_data, id=str(uuid.uuid4()), createdAt=timezone.now().isoformat())
        send_message.delay(msg)
        return Response({"id": msg["id"], "status": "accepted"}, status=status.HTTP_202_ACCEPTED)


urlpatterns = [path("api/v1/messages", Messages.as_view())]

application = get_wsgi_application()

"""The API's outbox publisher (router.outbox_publisher): what a worker's exit and /readyz rely on."""

import pytest

from messaging.channels import Channel
from router.domain import Client, MessageRequest
from router.kafka import api_publisher, clients_reset
from router.models import OutboxEntry
from router.services import messages_accept_batch


@pytest.fixture
def fresh_publisher():
    """The tests below close the process's publisher; the next user gets a new one."""
    clients_reset()
    yield
    clients_reset()


@pytest.mark.django_db(databases=["default"], transaction=True)
def test_closing_settles_every_outstanding_acknowledgement(fresh_publisher):
    """What a gunicorn worker does at exit (router.kafka): what Kafka acknowledged is marked published
    before close() returns, even when the requests were answered a moment before."""
    request = MessageRequest(channel=Channel.SMS, to="+14155552671", body="exit")
    messages_accept_batch(requests=[request] * 200, client=Client(id="key:exit-test"), respond=lambda messages: {})

    api_publisher().close(flush_timeout=20)

    assert OutboxEntry.objects.count() == 200
    assert not OutboxEntry.objects.filter(published_at__isnull=True).exists()


@pytest.mark.django_db(databases=["default"])
def test_readyz_is_unavailable_when_the_publisher_thread_is_gone(client, fresh_publisher):
    """Without the thread nothing would be marked published and the relay would send everything again."""
    api_publisher().close(flush_timeout=0)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "kafka": False}

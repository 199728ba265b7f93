"""With Kafka unreachable the API still accepts (into the outbox); the relay publishes it all later."""

import time
from datetime import timedelta

import orjson
import pytest
from django.conf import settings
from django.utils import timezone

from messaging.channels import Channel
from messaging.clients import build_producer
from messaging.envelope import MessageEnvelope
from messaging.errors import PublishError
from messaging.topics import router_log_topic, send_topic
from messaging.tracing import TraceContext
from router.accept.outbox import RELAY_RETRY_MAX_SECONDS, outbox_entries_settle, outbox_relay_pending, outbox_store
from router.accept.prepare import message_prepare
from router.domain import Client, MessageRequest
from router.kafka import clients_reset, router_log
from router.models import OutboxEntry
from router.selectors import outbox_pending_list
from tests.delivery.support import CHANNEL_DBS, records_with_key
from tests.processes import manage_py, wait_for
from tests.router.factories import REQUEST_FACTORIES, ApiKeyFactory
from tests.router.kafka import read_records

URL = "/api/v1/messages"


@pytest.mark.parametrize("keyed", [False, True], ids=["no key", "idempotency key"])
@pytest.mark.django_db(databases=["default"], transaction=True)
def test_messages_accepted_while_kafka_is_unreachable_are_relayed_exactly_once(client, settings, keyed):
    """One durability protocol with or without an Idempotency-Key: the 202 comes promptly, what Kafka
    did not acknowledge is in the outbox with its attempt counted, the relay publishes it once (and a
    keyed request repeated later is answered from its key, nothing published again)."""
    api_key = ApiKeyFactory()
    real_bootstrap_servers = settings.KAFKA_BOOTSTRAP_SERVERS
    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:1"  # nothing listens there
    settings.ROUTER_PUBLISH_TIMEOUT_SECONDS = 0.5
    accepted = []
    for channel in Channel:
        payload = REQUEST_FACTORIES[channel.value]()
        started = time.monotonic()
        response = client.post(
            URL,
            data=orjson.dumps(payload),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}",
            **({"HTTP_IDEMPOTENCY_KEY": f"down-{channel.value}"} if keyed else {}),
        )
        assert response.status_code == 202, response.content
        assert time.monotonic() - started < 3.0, "the API must answer promptly when Kafka is down"
        accepted.append((channel, payload, response.json()))
    ids = [body["id"] for _, _, body in accepted]

    def pending():  # a fresh query each time: an evaluated QuerySet answers from its cache
        return OutboxEntry.objects.filter(message_id__in=ids, published_at__isnull=True)

    # The API does not wait for Kafka: its publisher records the failed attempt once the producer
    # gives the record up (after ROUTER_PUBLISH_TIMEOUT_SECONDS) and leaves the entry to the relay.
    wait_for(
        lambda: pending().filter(attempts=1).exclude(last_error="").count() == 3,
        timeout=30,
        what="the publisher to record each failed attempt",
    )
    clients_reset()  # forget the clients of the dead broker (and the log events they still hold)
    settings.KAFKA_BOOTSTRAP_SERVERS = real_bootstrap_servers
    assert pending().count() == 3

    with manage_py(
        "relay", "relay_outbox", ROUTER_RELAY_GRACE_SECONDS="0", ROUTER_RELAY_INTERVAL_SECONDS="0.2"
    ) as relay:
        wait_for(lambda: not pending().exists(), timeout=30, what="the relay to publish every pending entry")
        assert relay.stop() == 0, relay.output()

    for channel, payload, body in accepted:
        if keyed:
            again = client.post(
                URL,
                data=orjson.dumps(payload),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}",
                HTTP_IDEMPOTENCY_KEY=f"down-{channel.value}",
            )
            assert (again.status_code, again.json()["id"], again["Idempotent-Replayed"]) == (202, body["id"], "true")
        (record,) = read_records(send_topic(channel), key=body["id"].encode())
        envelope = MessageEnvelope.from_json(record.value())
        assert (envelope.trace_id, envelope.to, envelope.body) == (body["traceId"], payload["to"], payload["body"])


def _stored_entry(body: str) -> OutboxEntry:
    """An SMS's outbox entry as the API leaves it when Kafka did not acknowledge, past the grace period."""
    request = MessageRequest(channel=Channel.SMS, to="+14155552671", body=body)
    prepared = message_prepare(request=request, client=Client(id="key:test"), trace=TraceContext.new())
    (outbox,) = outbox_store([prepared])
    OutboxEntry.objects.filter(pk=outbox.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    outbox.refresh_from_db()
    return outbox


@pytest.mark.django_db(databases=["default"], transaction=True)
def test_entries_that_keep_failing_move_behind_the_others():
    """A transient failure (a topic gone missing, a broker that does not answer) puts an entry back by
    a delay that doubles with each failure, up to a cap: entries that keep failing cannot fill every
    relay batch and hold up the ones behind them."""
    failing = [_stored_entry(f"failing {n}") for n in range(3)]  # the oldest: listed first so far
    behind = _stored_entry("behind")

    delays = []
    for _ in range(3):
        failed_at = timezone.now()
        outbox_entries_settle(
            acked=[],
            failed=[(entry, PublishError("no acknowledgement within 10.0s")) for entry in failing],
            log=router_log(),
        )
        for entry in failing:
            entry.refresh_from_db()
        delays.append(min(entry.due_at for entry in failing) - failed_at)
        listed = outbox_pending_list(due_by=timezone.now(), created_before=timezone.now(), limit=2)
        assert [entry.pk for entry in listed] == [behind.pk]
    assert timedelta(seconds=1) <= delays[0] < delays[1] < delays[2]
    assert [entry.attempts for entry in failing] == [3, 3, 3]

    # However often it failed, it is tried again within the cap.
    OutboxEntry.objects.filter(pk=failing[0].pk).update(attempts=50)
    failing[0].refresh_from_db()
    failed_at = timezone.now()
    outbox_entries_settle(acked=[], failed=[(failing[0], PublishError("still nothing"))], log=router_log())
    failing[0].refresh_from_db()
    assert failing[0].due_at - failed_at <= timedelta(seconds=RELAY_RETRY_MAX_SECONDS + 1)


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)  # GET reads the channels' records too
def test_an_entry_kafka_refuses_for_good_ends_failed_and_never_holds_the_relay(admin_client):
    """An entry too large for any record (written before the API checked sizes, say) is refused by
    Kafka: it ends `failed` with its error and a `message.failed` event, the entry behind it is
    published in the same pass, and the next pass leaves it alone."""
    huge, fine = _stored_entry("x" * 2_000_000), _stored_entry("hello")
    result = outbox_relay_pending(producer=build_producer(), batch_size=10, grace_seconds=0)
    assert (result.published, result.failed) == (1, 1)

    huge.refresh_from_db()
    fine.refresh_from_db()
    assert huge.failed_at is not None and huge.published_at is None
    assert "MSG_SIZE_TOO_LARGE" in huge.last_error or "too large" in huge.last_error.lower()
    assert fine.published_at is not None
    assert outbox_relay_pending(producer=build_producer(), batch_size=10, grace_seconds=0).failed == 0
    router_log().flush()
    events = [orjson.loads(r.value()) for r in records_with_key(router_log_topic(), huge.key.encode())]
    assert "message.failed" in [event["event"]["action"] for event in events]
    # What the API and the admin say of it.
    assert admin_client.get(f"/api/v1/messages/{huge.message_id}").json()["status"] == "failed"
    assert admin_client.get(f"/api/v1/messages/{fine.message_id}").json()["status"] == "accepted"
    changelist = admin_client.get("/admin/router/outboxentry/", {"failed_at__isempty": "0"}).content.decode()
    assert huge.key in changelist and fine.key not in changelist
    assert "MSG_SIZE_TOO_LARGE" in changelist or "too large" in changelist.lower()


@pytest.mark.django_db(databases=["default"])
def test_readyz_is_unavailable_when_the_delivery_report_thread_is_gone(client):
    """Without that thread no request would ever see its acknowledgement (each would end in the outbox)."""
    from router.kafka import api_acks

    clients_reset()
    try:
        api_acks().close(0)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": True, "kafka": False}
    finally:
        clients_reset()


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
    reason="needs row locks (bin/test --postgres); SQLite runs one relay",
)
@pytest.mark.django_db(databases=["default"], transaction=True)
def test_relays_side_by_side_publish_each_pending_entry_exactly_once():
    """Two relays over one backlog, in small batches: each entry is published by one of them only."""
    from collections import Counter
    from datetime import timedelta

    from django.utils import timezone

    from messaging.tracing import TraceContext
    from router.accept.outbox import outbox_store
    from router.accept.prepare import message_prepare
    from router.domain import Client, MessageRequest

    prepared = [
        message_prepare(
            request=MessageRequest(channel=Channel.SMS, to="+14155552671", body=f"backlog {n}"),
            client=Client(id="key:test"),
            trace=TraceContext.new(),
        )
        for n in range(300)
    ]
    entries = outbox_store(prepared)
    keys = {entry.key for entry in entries}
    OutboxEntry.objects.filter(key__in=keys).update(created_at=timezone.now() - timedelta(minutes=1))

    def pending():
        return OutboxEntry.objects.filter(key__in=keys, published_at__isnull=True)

    relay_args = ("relay_outbox", "--grace", "0", "--interval", "0.01", "--batch-size", "7")
    with manage_py("relay-a", *relay_args) as first, manage_py("relay-b", *relay_args) as second:
        wait_for(lambda: not pending().exists(), timeout=60, what="the relays to publish the backlog")
        assert first.stop() == 0, first.output()
        assert second.stop() == 0, second.output()

    published = Counter(record.key().decode() for record in read_records(send_topic(Channel.SMS)))
    assert {key: published[key] for key in keys if published[key] != 1} == {}

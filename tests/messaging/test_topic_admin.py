"""Topic creation on the real broker: every topic of docs/architecture.md, idempotently."""

import uuid

from messaging.clients import build_admin
from messaging.topic_admin import ensure_topics
from messaging.topics import all_topics


def test_create_topics_is_idempotent_and_uses_the_partition_count(settings):
    settings.KAFKA_TOPIC_PREFIX = f"idem-{uuid.uuid4().hex[:8]}."
    admin = build_admin()
    names = all_topics()
    try:
        first = ensure_topics(admin, names, partitions=4)
        second = ensure_topics(admin, names, partitions=4)

        assert sorted(first.created) == sorted(names)
        assert second.created == ()
        assert sorted(second.existing) == sorted(names)
        metadata = admin.list_topics(timeout=10).topics
        assert {len(metadata[name].partitions) for name in names} == {4}
    finally:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result()


def test_topic_names_follow_the_design(settings):
    settings.KAFKA_TOPIC_PREFIX = "p."
    settings.DELIVERY_MAX_ATTEMPTS = {"email": 3, "sms": 2, "whatsapp": 4}
    names = all_topics()
    assert "p.logs.router" in names
    assert {"p.send.email", "p.send.email.retry.1", "p.send.email.retry.2", "p.send.email.dlq"} <= set(names)
    assert "p.send.email.retry.3" not in names
    assert "p.send.sms.retry.2" not in names
    assert "p.logs.delivery.whatsapp" in names and "p.send.whatsapp.retry.3" in names

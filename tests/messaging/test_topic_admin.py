"""Topic creation on the real broker: every topic of docs/architecture.md, idempotently, with the replication a
cluster needs (on a private three-broker cluster), and a warning for an existing topic shaped otherwise."""

import uuid
from collections.abc import Iterator
from io import StringIO

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType
from django.core.management import call_command

from messaging.clients import build_admin
from messaging.topic_admin import ensure_topics
from messaging.topics import all_topics
from tests.engines.cluster import CLUSTER_ON_DEMAND, private_kafka_cluster


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


def _topic_configs(admin: AdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
    return {
        resource.name: {key: entry.value for key, entry in future.result().items()}
        for resource, future in admin.describe_configs(resources).items()
    }


def test_an_existing_topic_with_other_settings_is_named_in_a_warning(settings):
    settings.KAFKA_TOPIC_PREFIX = f"shape-{uuid.uuid4().hex[:8]}."
    admin = build_admin()
    name = f"{settings.KAFKA_TOPIC_PREFIX}send.email"
    created_elsewhere = NewTopic(name, num_partitions=1, replication_factor=1, config={"min.insync.replicas": "2"})
    admin.create_topics([created_elsewhere])[name].result()
    try:
        report = ensure_topics(admin, [name], partitions=1)
        assert report.existing == (name,)
        assert [(m.topic, m.setting, m.actual, m.wanted) for m in report.mismatches] == [
            (name, "min.insync.replicas", "2", "1")
        ]
        err = StringIO()
        call_command("create_topics", "--partitions=3", stdout=StringIO(), stderr=err)
        warnings = err.getvalue()
        assert f"topic {name}: partitions is 1, not 3" in warnings
        assert f"topic {name}: min.insync.replicas is 2, not 1" in warnings
    finally:
        admin.delete_topics(all_topics(), operation_timeout=30)


@pytest.fixture(scope="module")
def three_brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with private_kafka_cluster(tmp_path_factory.mktemp("cluster")) as layout:
        yield layout.kafka_bootstrap


@CLUSTER_ON_DEMAND[0]
@CLUSTER_ON_DEMAND[1]
def test_create_topics_on_three_brokers_makes_every_topic_rf3_with_min_insync_2(settings, three_brokers):
    settings.KAFKA_BOOTSTRAP_SERVERS = three_brokers
    settings.KAFKA_REPLICATION_FACTOR = 3
    settings.KAFKA_TOPIC_PREFIX = f"rf3-{uuid.uuid4().hex[:8]}."
    out = StringIO()
    call_command("create_topics", stdout=out, stderr=StringIO())

    admin = build_admin()
    names = all_topics()
    assert f"topics: {len(names)} created" in out.getvalue()
    metadata = admin.list_topics(timeout=10).topics
    assert {len(partition.replicas) for name in names for partition in metadata[name].partitions.values()} == {3}
    assert {configs["min.insync.replicas"] for configs in _topic_configs(admin, names).values()} == {"2"}
    assert ensure_topics(admin, names, replication_factor=3).mismatches == ()

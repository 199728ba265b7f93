"""What the webhooks tests share: an API client of a new key, jobs published straight to the worker's
topic (the fan-out is test_webhooks' business), and what the worker wrote to Kafka about them."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from rest_framework.test import APIClient

from messaging.dead_letters import DeadLetterInfo
from messaging.headers import decode_headers
from messaging.topics import webhooks_dlq_topic, webhooks_log_topic, webhooks_topic
from messaging.tracing import TraceContext
from tests.delivery.support import publish_raw, topic_records
from tests.router.factories import ApiKeyFactory
from webhooks.pipeline import Job


def api_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory().raw_key}")
    return client


def endpoint_at(api: APIClient, port: int) -> dict[str, Any]:
    """A new endpoint of `api`'s key on a local port, for `message.sent`: as POST answered it (with its secret)."""
    body = {"url": f"http://127.0.0.1:{port}/hooks", "events": ["message.sent"]}
    response = api.post("/api/v1/webhooks", body, format="json")
    assert response.status_code == 201, response.json()
    return dict(response.json())


def publish_job(endpoint_id: str) -> Job:
    """A status webhook for `endpoint_id`, as the fan-out step would have produced it."""
    trace = TraceContext.new()
    message_id = str(uuid.uuid4())
    job = Job(
        endpoint_id=endpoint_id,
        webhook_id=f"msg_{uuid.uuid4().hex}",
        message_id=message_id,
        trace_id=trace.trace_id,
        payload=orjson.dumps({"type": "message.sent", "data": {"id": message_id, "status": "sent"}}),
        attempt=1,
    )
    publish_raw(webhooks_topic(), endpoint_id.encode(), job.to_json(), trace)
    return job


def dead_letters(endpoint_id: str) -> list[tuple[DeadLetterInfo, dict[str, Any]]]:
    """The DLQ records of one endpoint's jobs: their headers' story and the job as it was."""
    found = []
    for record in topic_records(webhooks_dlq_topic()):
        job = orjson.loads(record.value())
        info = DeadLetterInfo.from_headers(decode_headers(record.headers()))
        if info is not None and job.get("endpointId") == endpoint_id:
            found.append((info, job))
    return found


def worker_log_events(action: str, endpoint_id: str) -> list[dict[str, Any]]:
    """The webhooks worker's log events of one action about one endpoint (logs.webhooks)."""
    events = [orjson.loads(record.value()) for record in topic_records(webhooks_log_topic())]
    return [e for e in events if e["event"]["action"] == action and e["labels"].get("endpoint_id") == endpoint_id]

"""The hand-built 202 body is exactly what the documented serializer renders."""

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from router.models import Message
from router.views.messages import AcceptedMessageSerializer, accepted_message_data


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds
        datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_accepted_message_data_matches_the_serializer(created_at):
    message = Message(
        id=uuid.uuid4(),
        trace_id="a" * 32,
        channel="sms",
        recipient="+14155552671",
        client="key:x",
        created_at=created_at,
    )
    assert accepted_message_data(message) == AcceptedMessageSerializer(message).data

"""router.fast_lane: valid single POSTs are answered before DRF's dispatch, exactly as MessagesView
would answer them; every other request reaches the view unchanged and leaves no trace of the lane."""

import orjson
import pytest

from router.models import Message
from router.views.messages import MessagesView
from tests.router.factories import REQUEST_FACTORIES, ApiKeyFactory

pytestmark = pytest.mark.django_db(databases=["default"], transaction=True)
URL = "/api/v1/messages"


@pytest.fixture
def view_calls(monkeypatch):
    """The requests MessagesView answered (the lane answers the others)."""
    calls = []
    original = MessagesView.dispatch

    def dispatch(self, request, *args, **kwargs):
        calls.append(request)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(MessagesView, "dispatch", dispatch)
    return calls


def send(client, payload, path=URL, **extra):
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return client.generic("POST", path, body, content_type=extra.pop("content_type", "application/json"), **extra)


def _comparable(response):
    """What a client sees of a 202, minus what differs per message (its id and time)."""
    body = response.json()
    headers = dict(response.items())
    assert headers.pop("Location").endswith(f"/api/v1/messages/{body.pop('id')}")
    body.pop("traceId"), body.pop("createdAt")
    headers.pop("Content-Length")  # the id and timestamp have fixed widths, but the view does not say
    return response.status_code, headers, body


@pytest.mark.parametrize("channel", sorted(REQUEST_FACTORIES))
def test_the_lane_answers_a_valid_request_as_the_view_does(client, settings, view_calls, channel):
    key = ApiKeyFactory()
    payload = REQUEST_FACTORIES[channel]()
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {key.raw_key}"}

    by_lane = send(client, payload, **auth)
    assert by_lane.status_code == 202, by_lane.content
    assert view_calls == []  # the lane answered
    assert int(by_lane["Content-Length"]) == len(by_lane.content)

    settings.ROUTER_FAST_ACCEPT = False
    by_view = send(client, payload, **auth)
    assert len(view_calls) == 1

    assert _comparable(by_lane) == _comparable(by_view)
    assert Message.objects.count() == 2


def test_the_lane_honours_the_callers_trace(client, view_calls):
    key = ApiKeyFactory()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = send(
        client,
        REQUEST_FACTORIES["sms"](),
        HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}",
        HTTP_TRACEPARENT=f"00-{trace_id}-00f067aa0ba902b7-01",
    )
    assert response.status_code == 202 and view_calls == []
    assert response.json()["traceId"] == trace_id


@pytest.mark.parametrize(
    ("case", "extra", "status", "content_type"),
    [
        ("browsable API", {"HTTP_ACCEPT": "text/html"}, 202, "text/html; charset=utf-8"),
        ("format override", {"path": f"{URL}?format=json"}, 202, "application/json"),
        ("an empty Idempotency-Key", {"HTTP_IDEMPOTENCY_KEY": " "}, 400, "application/json"),
        ("another media type accepted", {"HTTP_ACCEPT": "application/xml"}, 406, "application/json"),
        ("not JSON", {"content_type": "text/plain"}, 415, "application/json"),
        ("an invalid body", {"payload": {"channel": "sms", "to": "12", "body": "x"}}, 400, "application/json"),
        ("broken JSON", {"payload": b'{"channel": "sms",'}, 400, "application/json"),
        ("an unknown key", {"HTTP_AUTHORIZATION": "Api-Key nope.nope"}, 401, "application/json"),
        ("a refused host", {"HTTP_HOST": "evil.example"}, 400, None),
    ],
)
def test_what_the_lane_does_not_take_whole_reaches_the_view(client, view_calls, case, extra, status, content_type):
    key = ApiKeyFactory()
    extra = {"HTTP_AUTHORIZATION": f"Api-Key {key.raw_key}", **extra}
    payload = extra.pop("payload", REQUEST_FACTORIES["sms"]())

    response = send(client, payload, **extra)

    assert response.status_code == status, (case, response.content)
    if content_type:
        assert response["Content-Type"] == content_type
    # The view answered (a refused host is refused by Django before any view), and the lane accepted
    # nothing on its own: only the view's 202 wrote a message.
    assert len(view_calls) == (0 if case == "a refused host" else 1)
    assert Message.objects.count() == (1 if status == 202 else 0)


def test_an_idempotency_key_is_taken_by_the_lane_and_a_reuse_with_another_body_by_the_view(client, view_calls):
    key = ApiKeyFactory()
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key.raw_key}", "HTTP_IDEMPOTENCY_KEY": "order-1042"}
    payload = REQUEST_FACTORIES["sms"]()

    first, again = send(client, payload, **headers), send(client, payload, **headers)
    assert (first.status_code, again.status_code) == (202, 202) and view_calls == []
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first

    other = send(client, {**payload, "body": "another body"}, **headers)
    assert other.status_code == 422 and len(view_calls) == 1
    assert "order-1042" in other.json()["detail"]
    assert Message.objects.count() == 1


def test_a_throttled_key_is_answered_by_the_view(client, settings, view_calls):
    settings.ROUTER_THROTTLE_RATE = "1/min"
    key = ApiKeyFactory()
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {key.raw_key}"}

    assert send(client, REQUEST_FACTORIES["sms"](), **auth).status_code == 202
    refused = send(client, REQUEST_FACTORIES["sms"](), **auth)

    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert len(view_calls) == 1 and Message.objects.count() == 1


def test_each_failed_key_attempt_counts_once(client, settings):
    """The lane hands a refused key on without recording it: the view records it, once."""
    settings.ROUTER_AUTH_FAILURE_RATE = "2/min"
    bad = {"HTTP_AUTHORIZATION": "Api-Key wrong.key"}
    statuses = [send(client, REQUEST_FACTORIES["sms"](), **bad).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


# An error while the lane accepts answers JSON as the view's would: tests/router/test_json_errors.py.

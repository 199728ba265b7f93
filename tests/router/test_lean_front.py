"""router.lean: valid `POST /api/v1/messages` and `/batch` are answered by the WSGI front before Django,
exactly as the views would answer them; every other request reaches Django unchanged and leaves no
trace of the front. Requests go through config.wsgi.application, as gunicorn sends them."""

import time

import orjson
import pytest
from prometheus_client import REGISTRY
from rest_framework_api_key.models import APIKey

from messaging.topics import router_log_topic
from messaging.tracing import TraceContext
from router import authentication
from router.models import Message
from router.views.batch import MessageBatchView
from router.views.messages import MessagesView
from tests.router.factories import REQUEST_FACTORIES, ApiKeyFactory
from tests.router.kafka import wait_for_records
from tests.router.wsgi import wsgi_post

pytestmark = pytest.mark.django_db(databases=["default"], transaction=True)
URL = "/api/v1/messages"
BATCH_URL = "/api/v1/messages/batch"


@pytest.fixture
def view_calls(monkeypatch):
    """The requests the views answered (the front answers the others)."""
    calls = []
    for view in (MessagesView, MessageBatchView):
        monkeypatch.setattr(view, "dispatch", _recording(view.dispatch, calls))
    return calls


def _recording(dispatch, calls):
    def recorded(self, request, *args, **kwargs):
        calls.append(request)
        return dispatch(self, request, *args, **kwargs)

    return recorded


@pytest.fixture
def auth():
    return {"HTTP_AUTHORIZATION": f"Api-Key {ApiKeyFactory().raw_key}"}


def _comparable(response):
    """What a client sees of a single 202, minus what differs per message (its id and time)."""
    body = response.json()
    headers = dict(response.headers)
    assert headers.pop("Location") == f"http://testserver/api/v1/messages/{body.pop('id')}"
    body.pop("traceId"), body.pop("createdAt")
    assert int(headers.pop("Content-Length")) == len(response.content)
    return response.status_code, headers, body


@pytest.mark.parametrize("channel", sorted(REQUEST_FACTORIES))
def test_the_front_answers_a_valid_request_as_the_view_does(settings, view_calls, auth, channel):
    payload = REQUEST_FACTORIES[channel]()

    by_front = wsgi_post(URL, payload, **auth)
    assert by_front.status_code == 202, by_front.content
    assert view_calls == []  # the front answered

    settings.ROUTER_FAST_ACCEPT = False
    by_view = wsgi_post(URL, payload, **auth)
    assert len(view_calls) == 1

    assert _comparable(by_front) == _comparable(by_view)
    assert Message.objects.count() == 2


def _comparable_batch(response):
    body = response.json()
    for result in body["results"]:
        for varying in ("id", "traceId", "createdAt"):
            result.pop(varying, None)
    headers = dict(response.headers)
    assert int(headers.pop("Content-Length")) == len(response.content)
    return response.status_code, headers, body


def test_the_front_answers_a_batch_as_the_view_does_and_logs_its_rejected_items(settings, view_calls, auth):
    items = [
        REQUEST_FACTORIES["sms"](),
        {"channel": "sms", "to": "12", "body": "x"},
        REQUEST_FACTORIES["email"](),
        None,
    ]
    trace = TraceContext.new()

    by_front = wsgi_post(BATCH_URL, {"messages": items}, HTTP_TRACEPARENT=trace.traceparent, **auth)
    assert by_front.status_code == 202, by_front.content
    assert view_calls == []
    assert by_front.json()["accepted"] == 2 and by_front.json()["rejected"] == 2

    settings.ROUTER_FAST_ACCEPT = False
    by_view = wsgi_post(BATCH_URL, {"messages": items}, **auth)
    assert len(view_calls) == 1
    assert _comparable_batch(by_front) == _comparable_batch(by_view)
    assert Message.objects.count() == 4

    # The front's rejected items are logged as the view logs them: one event each, in the request's trace.
    records = wait_for_records(router_log_topic(), trace.trace_id.encode(), lambda records: len(records) >= 2)
    events = [orjson.loads(record.value()) for record in records]
    rejected = [event for event in events if event["event"]["action"] == "message.rejected"]
    assert sorted(event["labels"]["batch_index"] for event in rejected) == ["1", "3"]


def test_the_front_honours_the_callers_trace(view_calls, auth):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = wsgi_post(URL, REQUEST_FACTORIES["sms"](), HTTP_TRACEPARENT=f"00-{trace_id}-00f067aa0ba902b7-01", **auth)
    assert response.status_code == 202 and view_calls == []
    assert response.json()["traceId"] == trace_id


def _api_requests(status: str) -> float:
    return REGISTRY.get_sample_value("comms_api_requests_total", {"method": "POST", "status": status}) or 0.0


def test_the_fronts_answers_are_counted_as_django_counts_them(settings, view_calls, auth):
    before = _api_requests("202")
    wsgi_post(URL, REQUEST_FACTORIES["sms"](), **auth)
    wsgi_post(BATCH_URL, {"messages": [REQUEST_FACTORIES["sms"]()]}, **auth)
    assert view_calls == [] and _api_requests("202") == before + 2

    settings.ROUTER_FAST_ACCEPT = False
    wsgi_post(URL, REQUEST_FACTORIES["sms"](), **auth)
    assert len(view_calls) == 1 and _api_requests("202") == before + 3  # ApiMetricsMiddleware, once


@pytest.mark.parametrize(
    ("case", "path", "extra", "status", "content_type"),
    [
        ("browsable API", URL, {"HTTP_ACCEPT": "text/html"}, 202, "text/html; charset=utf-8"),
        ("format override", URL, {"query": "format=json"}, 202, "application/json"),
        ("an empty Idempotency-Key", URL, {"HTTP_IDEMPOTENCY_KEY": " "}, 400, "application/json"),
        ("another media type accepted", URL, {"HTTP_ACCEPT": "application/xml"}, 406, "application/json"),
        ("not JSON", URL, {"CONTENT_TYPE": "text/plain"}, 415, "application/json"),
        ("an invalid body", URL, {"payload": {"channel": "sms", "to": "12", "body": "x"}}, 400, "application/json"),
        ("broken JSON", URL, {"payload": b'{"channel": "sms",'}, 400, "application/json"),
        ("an unknown key", URL, {"HTTP_AUTHORIZATION": "Api-Key nope.nope"}, 401, "application/json"),
        ("too large", URL, {"payload": {"channel": "sms", "to": "+14155552671", "body": "x" * 2000}}, 413, None),
        ("a batch of no messages", BATCH_URL, {"payload": {"messages": []}}, 400, "application/json"),
        ("a batch browsed", BATCH_URL, {"HTTP_ACCEPT": "text/html"}, 202, "text/html; charset=utf-8"),
        ("a refused host", URL, {"HTTP_HOST": "evil.example"}, 400, None),
    ],
)
def test_what_the_front_does_not_take_whole_reaches_django(
    settings, view_calls, auth, case, path, extra, status, content_type
):
    settings.ROUTER_MAX_REQUEST_BYTES = 1000
    extra = {**auth, **extra}
    default = {"messages": [REQUEST_FACTORIES["sms"]()]} if path == BATCH_URL else REQUEST_FACTORIES["sms"]()
    payload = extra.pop("payload", default)

    response = wsgi_post(path, payload, **extra)

    assert response.status_code == status, (case, response.content)
    if content_type:
        assert response["Content-Type"] == content_type
    # The view answered (a refused host is refused by Django before any view), and the front accepted
    # nothing on its own: only the view's 202 wrote a message.
    assert len(view_calls) == (0 if case == "a refused host" else 1)
    assert Message.objects.count() == (1 if status == 202 else 0)


@pytest.mark.parametrize("path", [URL, BATCH_URL])
def test_an_idempotency_key_is_taken_by_the_front_and_a_reuse_with_another_body_by_the_view(view_calls, auth, path):
    headers = {**auth, "HTTP_IDEMPOTENCY_KEY": "order-1042"}
    payload = REQUEST_FACTORIES["sms"]()
    if path == BATCH_URL:
        payload = {"messages": [payload]}

    first, again = wsgi_post(path, payload, **headers), wsgi_post(path, payload, **headers)
    assert (first.status_code, again.status_code) == (202, 202) and view_calls == []
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first

    other = wsgi_post(
        path, {**payload, "metadata": {"other": "body"}} if path == URL else {"messages": [payload, payload]}, **headers
    )
    assert other.status_code == 422 and len(view_calls) == 1
    assert "order-1042" in other.json()["detail"]
    assert Message.objects.count() == 1


def test_a_throttled_key_is_answered_by_the_view(settings, view_calls, auth):
    settings.ROUTER_THROTTLE_RATE = "1/min"
    assert wsgi_post(URL, REQUEST_FACTORIES["sms"](), **auth).status_code == 202
    refused = wsgi_post(BATCH_URL, {"messages": [REQUEST_FACTORIES["sms"]()]}, **auth)

    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert len(view_calls) == 1 and Message.objects.count() == 1


def test_each_failed_key_attempt_counts_once(settings):
    """The front hands a refused key on without recording it: the view records it, once; an address
    locked out is then answered by the view, whatever key it sends."""
    settings.ROUTER_AUTH_FAILURE_RATE = "2/min"
    bad = {"HTTP_AUTHORIZATION": "Api-Key wrong.key"}
    statuses = [wsgi_post(URL, REQUEST_FACTORIES["sms"](), **bad).status_code for _ in range(3)]
    good = {"HTTP_AUTHORIZATION": f"Api-Key {ApiKeyFactory().raw_key}"}
    assert [*statuses, wsgi_post(URL, REQUEST_FACTORIES["sms"](), **good).status_code] == [401, 401, 429, 429]


def test_a_revoked_key_stops_working_on_the_front_once_its_cache_entry_expires(settings, monkeypatch):
    """A revocation this process did not see (another worker's, a queryset update) within the TTL."""
    settings.ROUTER_API_KEY_CACHE_SECONDS = 5
    key = ApiKeyFactory()
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {key.raw_key}"}
    assert wsgi_post(URL, REQUEST_FACTORIES["sms"](), **auth).status_code == 202  # verified and cached
    APIKey.objects.filter(pk=key.pk).update(revoked=True)
    assert wsgi_post(URL, REQUEST_FACTORIES["sms"](), **auth).status_code == 202  # still within its TTL

    now = time.monotonic()
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now + 5.1)
    assert wsgi_post(URL, REQUEST_FACTORIES["sms"](), **auth).status_code == 401


def test_without_a_key_cache_a_revocation_stops_the_front_at_once(settings):
    settings.ROUTER_API_KEY_CACHE_SECONDS = 0
    key = ApiKeyFactory()
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {key.raw_key}"}
    assert wsgi_post(URL, REQUEST_FACTORIES["sms"](), **auth).status_code == 202
    APIKey.objects.filter(pk=key.pk).update(revoked=True)
    assert wsgi_post(URL, REQUEST_FACTORIES["sms"](), **auth).status_code == 401


# An error while the front accepts answers JSON as the view's would: tests/router/test_json_errors.py.

"""Accept parity: every request to `POST /api/v1/messages` and `/batch` is answered the same whether the
lane in front of Django may answer it (ROUTER_FAST_ACCEPT=True) or every request goes through DRF's
views (False): the same status, the same headers (names and values) and the same body, byte for byte,
once what differs per message (its id, trace id and createdAt) is replaced by a name that keeps which
answers share it (a replay answers the first request's id).

It drives `config.wsgi.application`, the server's WSGI callable, in process, with real databases and
Kafka; it knows nothing of how the lane works, so it holds for whatever stands in front of Django.
The requests are mostly near-valid (tests/router/parity_strategies.py). PARITY_EXAMPLES sets how many
each test generates (docs/tests.md: the on-demand run of 10,000 per channel).
"""

from __future__ import annotations

import html
import io
import os
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from wsgiref.util import setup_testing_defaults

import orjson
import pytest
from django.test import override_settings
from hypothesis import HealthCheck, event, example, given
from hypothesis import settings as hypothesis_settings

from router.views.messages import IDEMPOTENCY_KEY_MAX_CHARS
from tests.router import parity_strategies as parity
from tests.router.parity_strategies import CONFLICTING, SINGLE, Post

pytestmark = [pytest.mark.django_db(databases=["default"], transaction=True), pytest.mark.usefixtures("own_topics")]

# The default keeps the file within a minute in CI; the on-demand run sets 10000.
EXAMPLES = int(os.environ.get("PARITY_EXAMPLES", "25"))
PARITY = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: str


@dataclass(frozen=True)
class Caller:
    """The WSGI callable and the API key every request sends (the templates belong to its client)."""

    app: WsgiApp
    raw_key: str


def wsgi_post(
    app: WsgiApp, post: Post, body: bytes, *, authorization: str | None, idempotency_key: str | None
) -> Answer:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": post.path,
            "QUERY_STRING": post.headers.query,
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": post.headers.host,
            "wsgi.input": io.BytesIO(body),
        }
    )
    given = {
        "CONTENT_TYPE": post.headers.content_type,
        "CONTENT_LENGTH": str(len(body)) if post.headers.content_length else None,
        "HTTP_ACCEPT": post.headers.accept,
        "HTTP_TRACEPARENT": post.headers.traceparent,
        "HTTP_AUTHORIZATION": authorization,
        "HTTP_IDEMPOTENCY_KEY": idempotency_key,
    }
    environ.update({name: value for name, value in given.items() if value is not None})
    started: list[tuple[str, list[tuple[str, str]]]] = []
    result = app(environ, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()  # as a server does: Django's request_finished
    status, headers = started[-1]
    return Answer(int(status.split()[0]), tuple(headers), content.decode("utf-8", "replace"))


class Names:
    """Names for what differs per message, in order of appearance: `<id 1>`, `<trace 2>`…; the caller's
    own trace id (a valid `traceparent`) keeps its name, as both paths must answer it."""

    def __init__(self, caller_trace_id: str | None) -> None:
        self.given: dict[str, str] = {}
        self.caller_trace_id = caller_trace_id

    def name(self, kind: str, value: str) -> None:
        if value in self.given or (kind == "traceId" and value == self.caller_trace_id):
            return
        count = sum(name.startswith(f"<{kind} ") for name in self.given.values())
        self.given[value] = f"<{kind} {count + 1}>"

    def collect(self, answer: Answer) -> None:
        # One pattern for JSON, pretty-printed JSON and the browsable API's HTML page.
        for kind, value in _PER_MESSAGE.findall(html.unescape(answer.body)):
            self.name(kind, value)
        for location in (value for name, value in answer.headers if name == "Location"):
            for message_id in _UUID.findall(location):
                self.name("id", message_id)

    def replaced(self, text: str) -> str:
        for value, name in self.given.items():
            text = text.replace(value, name)
        return text


_PER_MESSAGE = re.compile(r'"(id|traceId|createdAt)":\s*"([^"]+)"')
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The browsable API's per-request token, and its cookie's expiry (to the second: either side of a tick).
_CSRF = re.compile(r'(csrfmiddlewaretoken" value="|csrftoken=|"csrfToken": "|expires=)[A-Za-z0-9, :]+')


def comparable(answers: list[Answer], *, idempotency_key: str | None, caller_trace_id: str | None) -> list[Answer]:
    """The answers of one path with what differs per message, per key and per request named."""
    names = Names(caller_trace_id)
    for answer in answers:
        names.collect(answer)
    result = []
    for answer in answers:
        body = names.replaced(answer.body)
        if idempotency_key and idempotency_key.strip():  # a blank key (" ") is in every page's text
            body = body.replace(idempotency_key, "<idempotency key>")
        headers = []
        for name, value in answer.headers:
            if name == "Content-Length":
                assert value == str(len(answer.body.encode())), (value, answer)
                value = "<the body's length>"
            headers.append((name, _CSRF.sub(r"\1<token>", names.replaced(value))))
        result.append(replace(answer, headers=tuple(sorted(headers)), body=_CSRF.sub(r"\1<token>", body)))
    return result


def idempotency_key(kind: str, path_tag: str) -> str | None:
    """A key of this path's own (neither path sees the other's record, nor an earlier example's)."""
    own = f"{path_tag}-{uuid.uuid4().hex}"
    return {
        "none": None,
        "fresh": own,
        "at-limit": own.ljust(IDEMPOTENCY_KEY_MAX_CHARS, "k"),
        "blank": " ",
        "over-limit": own.ljust(IDEMPOTENCY_KEY_MAX_CHARS + 1, "k"),
    }[kind]


def authorization(caller: Caller, auth: str) -> str | None:
    return {
        "key": f"Api-Key {caller.raw_key}",
        "none": None,
        "unknown": "Api-Key nope.nope",
        "other-scheme": f"Bearer {caller.raw_key}",
    }[auth]


def path_answers(caller: Caller, post: Post, body: bytes, *, path_tag: str) -> list[Answer]:
    """One path's answers to `post`, written as `body` (and to its replay or its conflicting twin)."""
    key = idempotency_key(post.headers.idempotency, path_tag)
    auth = authorization(caller, post.headers.auth)
    answers = [wsgi_post(caller.app, post, body, authorization=auth, idempotency_key=key)]
    if post.headers.sequence == "replay":
        answers.append(wsgi_post(caller.app, post, body, authorization=auth, idempotency_key=key))
    elif post.headers.sequence == "conflict":
        other = CONFLICTING["sms"] if post.path == SINGLE else {"messages": [CONFLICTING["sms"]]}
        other_post = replace(post, body=other, edit=None, size=None)
        answers.append(wsgi_post(caller.app, other_post, other_post.encoded(), authorization=auth, idempotency_key=key))
    trace = (
        parity.TRACE_ID if post.headers.traceparent and parity.TRACE_ID in post.headers.traceparent.lower() else None
    )
    return comparable(answers, idempotency_key=key, caller_trace_id=trace)


def assert_parity(caller: Caller, post: Post) -> None:
    body = post.encoded(datetime.now(UTC))  # once: both paths are sent the same bytes
    answers = {}
    for lane in (True, False):
        # A context, not pytest-django's `settings` fixture: each assignment to that one wraps the
        # settings once more for the rest of the test, and thousands of examples exhaust the stack.
        with override_settings(ROUTER_FAST_ACCEPT=lane):
            answers[lane] = path_answers(caller, post, body, path_tag="lane" if lane else "view")
    event(f"{post.path} {' '.join(str(answer.status) for answer in answers[False])}")
    assert answers[True] == answers[False], f"sent {body[:300]!r} with {post.headers}"


@pytest.fixture
def caller(settings, api_key) -> Caller:
    """config.wsgi.application, with a key whose client has the strategies' templates, and rates
    high enough that no example is throttled (throttling has its own tests: test_fast_accept.py)."""
    from config.wsgi import application

    settings.ROUTER_THROTTLE_RATE = "1000000/s"
    settings.ROUTER_AUTH_FAILURE_RATE = "1000000/s"
    caller = Caller(app=application, raw_key=api_key.raw_key)
    for template in parity.TEMPLATES:
        created = wsgi_post(
            application,
            Post("/api/v1/templates", template),
            orjson.dumps(template),
            authorization=authorization(caller, "key"),
            idempotency_key=None,
        )
        assert created.status == 201, created
    return caller


def _with_examples(posts: list[Post]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        for post in reversed(posts):
            test = example(post=post)(test)
        return test

    return decorate


def _single_post_test(channel: str) -> Callable[..., None]:
    @PARITY
    @given(post=parity.single_posts(channel))
    @_with_examples(parity.edge_cases(channel))
    def test(caller: Caller, post: Post) -> None:
        assert_parity(caller, post)

    test.__doc__ = f"A {channel} message request, near-valid or at a limit, is answered alike by either path."
    return test


test_an_email_request_is_answered_alike_by_either_path = _single_post_test("email")
test_an_sms_request_is_answered_alike_by_either_path = _single_post_test("sms")
test_a_whatsapp_request_is_answered_alike_by_either_path = _single_post_test("whatsapp")


@PARITY
@given(post=parity.batch_posts())
@_with_examples(parity.batch_edge_cases())
def test_a_batch_is_answered_alike_by_either_path(caller, post):
    assert_parity(caller, post)

"""Templates: CRUD per API key, rendered once at accept in Jinja2's sandbox, the result held to the
channel's limits like literal content, and every way a templated request can be wrong a 400 naming it."""

from __future__ import annotations

import email
import uuid

import pytest

from delivery.providers import SendRequest
from email_service.providers import EmailBackendProvider
from messaging.envelope import MessageEnvelope
from messaging.topics import send_topic
from router.models import Message
from tests.router.factories import ApiKeyFactory
from tests.router.kafka import read_records

pytestmark = pytest.mark.django_db(databases=["default"])

EMAIL_TEMPLATE = {
    "name": "order-shipped",
    "channel": "email",
    "subject": "Order {{ order.id }} has shipped",
    "body": "Hello {{ name }}, {{ order.lines | length }} item(s) are on their way.",
    "html": "<p>Hello {{ name }}</p>",
}
SMS_TEMPLATE = {"name": "login-code", "channel": "sms", "body": "Your code is {{ code }}"}


@pytest.fixture
def templates(api):
    for template in (EMAIL_TEMPLATE, SMS_TEMPLATE):
        assert api.post("/api/v1/templates", template, format="json").status_code == 201
    return api


def test_a_template_is_created_read_listed_replaced_and_deleted(api):
    created = api.post("/api/v1/templates", SMS_TEMPLATE, format="json")
    assert created.status_code == 201, created.json()
    assert created.json() | {"createdAt": None, "updatedAt": None} == {
        **SMS_TEMPLATE,
        "version": 1,
        "createdAt": None,
        "updatedAt": None,
    }
    assert api.get("/api/v1/templates/login-code").json()["body"] == SMS_TEMPLATE["body"]
    assert [t["name"] for t in api.get("/api/v1/templates").json()] == ["login-code"]

    replaced = api.put("/api/v1/templates/login-code", {**SMS_TEMPLATE, "body": "Code: {{ code }}"}, format="json")
    assert replaced.status_code == 200, replaced.json()
    assert (replaced.json()["body"], replaced.json()["version"]) == ("Code: {{ code }}", 2)

    assert api.delete("/api/v1/templates/login-code").status_code == 204
    assert api.get("/api/v1/templates/login-code").status_code == 404


def test_templates_belong_to_their_api_key(api, client):
    assert api.post("/api/v1/templates", SMS_TEMPLATE, format="json").status_code == 201
    other = ApiKeyFactory()
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {other.raw_key}"}
    assert client.get("/api/v1/templates/login-code", **headers).status_code == 404
    assert client.get("/api/v1/templates", **headers).json() == []
    message = {"channel": "sms", "to": "+14155552671", "template": "login-code", "data": {"code": "1"}}
    response = client.post("/api/v1/messages", message, content_type="application/json", **headers)
    assert response.status_code == 400
    assert "template" in response.json()
    # The other key may use the name for its own template.
    created = client.post("/api/v1/templates", SMS_TEMPLATE, content_type="application/json", **headers)
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ({**SMS_TEMPLATE, "body": "{% if %}"}, "body"),
        ({**EMAIL_TEMPLATE, "subject": "{{ unclosed"}, "subject"),
        ({**EMAIL_TEMPLATE, "subject": ""}, "subject"),
        ({**SMS_TEMPLATE, "html": "<p>hi</p>"}, "html"),
        ({**SMS_TEMPLATE, "name": "no spaces allowed"}, "name"),
        ({**SMS_TEMPLATE, "bodyy": "typo"}, "bodyy"),
    ],
)
def test_a_template_that_cannot_work_is_refused_naming_the_field(api, template, field):
    response = api.post("/api/v1/templates", template, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_a_second_template_of_the_same_name_is_a_conflict(api):
    assert api.post("/api/v1/templates", SMS_TEMPLATE, format="json").status_code == 201
    response = api.post("/api/v1/templates", SMS_TEMPLATE, format="json")
    assert response.status_code == 409
    assert "name" in response.json()


def test_a_templated_message_is_rendered_once_at_accept_and_keeps_its_version(templates):
    data = {"name": "Ada", "order": {"id": "A-17", "lines": [1, 2]}}
    response = templates.post(
        "/api/v1/messages",
        {"channel": "email", "to": "ada@example.com", "template": "order-shipped", "data": data},
        format="json",
    )
    assert response.status_code == 202, response.json()
    message_id = response.json()["id"]
    # A later version changes nothing already accepted.
    templates.put("/api/v1/templates/order-shipped", {**EMAIL_TEMPLATE, "body": "changed"}, format="json")

    (record,) = read_records(send_topic("email"), key=message_id.encode())
    envelope = MessageEnvelope.from_json(record.value())
    assert envelope.subject == "Order A-17 has shipped"
    assert envelope.body == "Hello Ada, 2 item(s) are on their way."
    assert envelope.html == "<p>Hello Ada</p>"
    stored = Message.objects.get(pk=message_id)
    assert (stored.template, stored.template_version) == ("order-shipped", 1)


def test_html_is_escaped_in_the_html_part_only(templates):
    response = templates.post(
        "/api/v1/messages",
        {
            "channel": "email",
            "to": "ada@example.com",
            "template": "order-shipped",
            "data": {"name": "<Ada & co>", "order": {"id": "1", "lines": []}},
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    (record,) = read_records(send_topic("email"), key=response.json()["id"].encode())
    envelope = MessageEnvelope.from_json(record.value())
    assert envelope.body.startswith("Hello <Ada & co>,")
    assert envelope.html == "<p>Hello &lt;Ada &amp; co&gt;</p>"


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        ({"template": "login-code", "data": {}}, "data", "code"),  # StrictUndefined names the variable
        ({"template": "nope", "data": {}}, "template", "No template named 'nope'"),
        ({"template": "order-shipped", "data": {}}, "template", "for email messages, not sms"),
        ({"template": "login-code", "data": {"code": 1}, "body": "literal"}, "body", "Not together"),
        ({"body": "hi", "data": {"code": 1}}, "data", "Only together with `template`"),
        ({"template": "login-code", "data": ["not", "an", "object"]}, "data", "JSON object"),
        ({"template": "login-code", "data": None}, "data", "JSON object"),
        ({"template": "login-code", "data": {"code": "1", "x": "\x00"}}, "data", "NUL"),  # as metadata
        ({"template": "login-code", "data": {"code": "1", "x": _nested(40)}}, "data", "levels deep"),
        ({"template": "login-code", "data": {"code": "1", "x": "y" * 70_000}}, "data", "65536 bytes"),
        ({"template": "login-code", "data": {"code": "x" * 1601}}, "template", "rendered body"),
        ({"template": "sandbox", "data": {}}, "template", "not allowed"),
        ({"template": "spin", "data": {}}, "template", "not allowed"),
    ],
)
def test_every_wrong_templated_request_is_a_400_naming_it(templates, message, field, words):
    templates.post(
        "/api/v1/templates", {"name": "sandbox", "channel": "sms", "body": "{{ ''.__class__.__mro__ }}"}, format="json"
    )
    templates.post(
        "/api/v1/templates",
        {
            "name": "spin",
            "channel": "sms",
            "body": "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
        },
        format="json",
    )
    response = templates.post("/api/v1/messages", {"channel": "sms", "to": "+14155552671", **message}, format="json")
    assert response.status_code == 400, response.json()
    assert words in " ".join(response.json()[field]), response.json()


def test_a_rendered_subject_with_a_line_break_is_refused_like_a_literal_one(templates):
    templates.post("/api/v1/templates", {**EMAIL_TEMPLATE, "name": "inject", "subject": "Hi {{ name }}"}, format="json")
    response = templates.post(
        "/api/v1/messages",
        {
            "channel": "email",
            "to": "ada@example.com",
            "template": "inject",
            "data": {"name": "x\r\nBcc: eve@example.com", "order": {"lines": []}},
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "rendered subject" in " ".join(response.json()["template"]), response.json()


def test_a_batch_renders_each_item_and_rejects_only_the_wrong_ones(templates):
    items = [
        {"channel": "sms", "to": "+14155552671", "template": "login-code", "data": {"code": n}} for n in range(3)
    ] + [{"channel": "sms", "to": "+14155552671", "template": "login-code", "data": {}}]
    body = templates.post("/api/v1/messages/batch", {"messages": items}, format="json").json()
    assert (body["accepted"], body["rejected"]) == (3, 1)
    assert "data" in body["results"][3]["errors"]
    (record,) = read_records(send_topic("sms"), key=body["results"][2]["id"].encode())
    assert MessageEnvelope.from_json(record.value()).body == "Your code is 2"


def test_an_email_with_html_is_sent_as_text_and_html_alternatives():
    request = SendRequest(
        message_id=uuid.uuid4(),
        trace_id="0" * 32,
        to="ada@example.com",
        body="plain text",
        subject="Hi",
        metadata={},
        attempt=1,
        html="<p>html</p>",
    )
    parsed = email.message_from_bytes(EmailBackendProvider.build_message(request).message().as_bytes())
    assert parsed.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in parsed.get_payload()}
    assert parts == {"text/plain": "plain text", "text/html": "<p>html</p>"}

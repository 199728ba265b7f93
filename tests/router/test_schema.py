"""The OpenAPI schema validates and documents every endpoint, channel example and the auth scheme."""

import jsonschema
import pytest
import yaml
from django.core.management import call_command

from router.accept.requests import message_request_validate
from router.accept.rules import InvalidMessage


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_every_endpoint_is_documented(schema):
    paths = schema["paths"]
    assert "202" in paths["/api/v1/messages"]["post"]["responses"]
    assert "202" in paths["/api/v1/messages/batch"]["post"]["responses"]
    assert "200" in paths["/api/v1/messages/{message_id}"]["get"]["responses"]


def test_examples_for_every_channel_and_the_api_key_scheme(schema):
    examples = schema["paths"]["/api/v1/messages"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert {example["value"]["channel"] for example in examples.values()} == {"email", "sms", "whatsapp"}
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Api-Key <key>`; create a key with `bin/manage create_api_key <name>`.",
    }
    assert {"ApiKeyAuth": []} in schema["paths"]["/api/v1/messages"]["post"]["security"]


@pytest.mark.django_db(databases=["default"])
def test_schema_and_docs_are_served_without_a_key(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def _schema_accepts(schema, component, instance) -> bool:
    document = {"$ref": f"#/components/schemas/{component}", "components": schema["components"]}
    return jsonschema.Draft7Validator(document).is_valid(instance)


def _api_accepts(instance) -> bool:
    try:
        message_request_validate(instance)
    except InvalidMessage:
        return False
    return True


SMS = {"channel": "sms", "to": "+14155552671", "body": "Your code is 482913"}
EMAIL = {"channel": "email", "to": "ada@example.com", "subject": "Shipped", "body": "On its way."}
WHATSAPP = {"channel": "whatsapp", "to": "+447911123456", "body": "Booked."}
# What JSON Schema can say, it says: each request here is judged alike by the schema and the API.
AGREED_ON = [
    ("sms", SMS, True),
    ("email", EMAIL, True),
    ("whatsapp", WHATSAPP, True),
    ("sms-no-plus", {**SMS, "to": "14155552671"}, False),
    ("sms-16-digits", {**SMS, "to": "+1415555267123456"}, False),
    ("sms-body-1601", {**SMS, "body": "x" * 1601}, False),
    ("sms-with-subject", {**SMS, "subject": "hi"}, False),
    ("whatsapp-body-4097", {**WHATSAPP, "body": "x" * 4097}, False),
    ("unknown-channel", {**SMS, "channel": "fax"}, False),
    ("email-subject-999", {**EMAIL, "subject": "s" * 999}, False),
    ("email-subject-crlf", {**EMAIL, "subject": "hi\r\nBcc: eve@example.com"}, False),
    ("email-subject-nel", {**EMAIL, "subject": "hi\x85there"}, False),
    ("email-subject-u2028", {**EMAIL, "subject": "hi\u2028there"}, False),
    ("email-subject-tab", {**EMAIL, "subject": "hi\tthere"}, False),
    # At the ends too, where trimming would drop them (and Python's `$` matches before a final "\n").
    ("email-subject-trailing-lf", {**EMAIL, "subject": "hi\n"}, False),
    ("email-subject-leading-tab", {**EMAIL, "subject": "\thi"}, False),
    ("email-subject-unicode", {**EMAIL, "subject": "Crème brûlée — ready ✓"}, True),
    ("sms-priority-high", {**SMS, "priority": "high"}, True),
    ("email-priority-low", {**EMAIL, "priority": "low"}, True),
    ("sms-priority-urgent", {**SMS, "priority": "urgent"}, False),
    ("sms-priority-null", {**SMS, "priority": None}, False),
    ("whatsapp-expires-at-far-ahead", {**WHATSAPP, "expiresAt": "2099-01-01T00:00:00Z"}, True),
]


@pytest.mark.parametrize(("request_body", "valid"), [case[1:] for case in AGREED_ON], ids=[c[0] for c in AGREED_ON])
def test_the_schema_and_the_api_agree_on_a_message(schema, request_body, valid):
    assert _api_accepts(request_body) is valid
    assert _schema_accepts(schema, "MessageRequest", request_body) is valid


@pytest.mark.parametrize(("request_body", "valid"), [case[1:] for case in AGREED_ON], ids=[c[0] for c in AGREED_ON])
def test_the_schema_types_a_batchs_items_as_messages(schema, request_body, valid):
    # The API judges each item on its own (an invalid one is a rejected result in a 202); the schema
    # says what a valid item is, so a generated client sends valid ones.
    assert _schema_accepts(schema, "BatchRequestRequest", {"messages": [request_body]}) is valid


def test_priority_expiry_and_segments_are_documented(schema):
    components = schema["components"]["schemas"]
    assert components["PriorityEnum"]["enum"] == ["high", "normal", "low"]
    for request in ("EmailMessageRequest", "SmsMessageRequest", "WhatsAppMessageRequest"):
        properties = components[request]["properties"]
        assert properties["expiresAt"]["format"] == "date-time" and "TTL" in properties["expiresAt"]["description"]
        assert {"$ref": "#/components/schemas/PriorityEnum"} in properties["priority"].get("allOf", [])
    detail = components["MessageDetail"]["properties"]
    assert {"priority", "expiresAt", "segments"} <= set(detail)
    listing = schema["paths"]["/api/v1/messages"]["get"]["parameters"]
    priority = next(parameter for parameter in listing if parameter["name"] == "priority")
    assert set(priority["schema"]["enum"]) == {"high", "normal", "low"}
    status = next(parameter for parameter in listing if parameter["name"] == "status")
    assert "expired" in status["schema"]["enum"]


def test_every_operation_documents_the_503_of_a_server_at_capacity(schema):
    operations = [op for path in schema["paths"].values() for method, op in path.items() if method != "parameters"]
    undocumented = [op["operationId"] for op in operations if "503" not in op["responses"]]
    assert undocumented == []

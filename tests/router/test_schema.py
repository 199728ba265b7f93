"""The OpenAPI schema validates and documents every endpoint, channel example and the auth scheme."""

import pytest
import yaml
from django.core.management import call_command


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
        "description": "`Api-Key <key>`; create a key with `python manage.py create_api_key <name>`.",
    }
    assert {"ApiKeyAuth": []} in schema["paths"]["/api/v1/messages"]["post"]["security"]


@pytest.mark.django_db(databases=["default"])
def test_schema_and_docs_are_served_without_a_key(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200

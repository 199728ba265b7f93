"""Random JSON at POST /api/v1/messages and /batch: only documented statuses, never a 5xx, and every
400 in DRF's error format.

The inputs mix arbitrary JSON with message-shaped objects whose fields hold random values (so they
get past the channel check into each channel's rules), huge strings, unicode and deep nesting.
"""

import orjson
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.django_db(databases=["default"]), pytest.mark.usefixtures("own_topics")]

ALLOWED = {202, 400, 413, 415, 422}
JSON = "application/json"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8"), max_size=50),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
huge_text = st.sampled_from([1600, 1601, 4097, 256 * 1024 + 1, 1024 * 1024]).map(lambda size: "é" * size)
field_values = st.one_of(
    json_values,
    huge_text,
    st.sampled_from(["+14155552671", "+447911123456", "ada@example.com", "+99912345678", "", " ", "\x00"]),
)
message_shaped = st.fixed_dictionaries(
    {"channel": st.sampled_from(["email", "sms", "whatsapp"]) | json_values},
    optional={
        "to": field_values,
        "body": field_values,
        "subject": field_values,
        "metadata": json_values,
        "priority": json_values,
    },
)


def deeply_nested(depth: int) -> bytes:
    """A message whose metadata nests `depth` levels (built as text: orjson writes at most 254)."""
    metadata = '{"a":' * depth + "1" + "}" * depth
    return f'{{"channel":"sms","to":"+14155552671","body":"hi","metadata":{metadata}}}'.encode()


def is_drf_error_format(errors: object) -> bool:
    """`{"field": ["message", ...]}`, nested per item or field (`{"messages": {"0": [...]}}`), or
    `{"detail": "..."}` for a request that is not parseable JSON."""
    if not isinstance(errors, dict) or not errors:
        return False
    if set(errors) == {"detail"}:
        return isinstance(errors["detail"], str)
    return all(isinstance(name, str) and _is_field_errors(value) for name, value in errors.items())


def _is_field_errors(value: object) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(message, str) for message in value)
    return isinstance(value, dict) and bool(value) and all(_is_field_errors(inner) for inner in value.values())


def assert_documented_response(response) -> None:
    event(f"HTTP {response.status_code}")  # the mix shows with --hypothesis-show-statistics
    assert response.status_code in ALLOWED, (response.status_code, response.content[:500])
    assert response["Content-Type"] == JSON
    if response.status_code == 400:
        assert is_drf_error_format(response.json()), response.content[:500]


content_types = st.sampled_from([JSON, JSON, JSON, "text/plain", "application/x-www-form-urlencoded"])
single_bodies = st.one_of(
    json_values.map(orjson.dumps),
    message_shaped.map(orjson.dumps),
    st.integers(min_value=200, max_value=1100).map(deeply_nested),
)
batch_bodies = st.one_of(
    json_values.map(lambda value: orjson.dumps({"messages": value})),
    st.lists(message_shaped | json_values, min_size=0, max_size=5).map(lambda items: orjson.dumps({"messages": items})),
    json_values.map(orjson.dumps),
    st.integers(min_value=200, max_value=1100).map(lambda depth: b'{"messages":[' + deeply_nested(depth) + b"]}"),
)
# One API key for all examples on purpose: every generated request authenticates with it.
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=single_bodies, content_type=content_types)
@example(body=deeply_nested(300), content_type=JSON)
@example(body=b"[" * 5000 + b"]" * 5000, content_type=JSON)
@example(body=orjson.dumps({"channel": "sms", "to": "+14155552671", "body": "é" * 600_000}), content_type=JSON)
@example(body=b'{"channel": "sms", "to": "+14155552671", "body": "hi", "metadata": {"n": 1e400}}', content_type=JSON)
@example(body=b'{"channel": {"a": 1}, "to": [], "body": null}', content_type=JSON)
def test_random_json_at_send(api, body, content_type):
    assert_documented_response(api.post("/api/v1/messages", data=body, content_type=content_type))


@FUZZ
@given(body=batch_bodies, content_type=content_types)
@example(body=b'{"messages": [null, 1, "x", [], {}]}', content_type=JSON)
@example(body=orjson.dumps({"messages": [None] * 1001}), content_type=JSON)
def test_random_json_at_batch(api, body, content_type):
    response = api.post("/api/v1/messages/batch", data=body, content_type=content_type)
    assert_documented_response(response)
    if response.status_code == 202:
        results = response.json()["results"]
        assert [result["index"] for result in results] == list(range(len(results)))
        for result in results:
            assert result["status"] == "accepted" or is_drf_error_format(result["errors"]), result

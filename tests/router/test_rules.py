"""router.accept's message rules are plain Python: callable without DRF (issue 27's lean path calls
them as the serializers do), their errors a field → messages mapping in the order the API shows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from router.accept.requests import message_request_validate
from router.accept.rules import METADATA_MAX_DEPTH, FieldError, InvalidMessage, json_object_check
from tests.router.parity_strategies import nested

ACCEPT = Path(__file__).resolve().parents[2] / "router" / "accept"
RULE_MODULES = ("rules.py", "rendering.py", "requests.py", "prepare.py")


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", RULE_MODULES)
def test_the_rules_import_nothing_of_drf(module):
    drf = {name for name in _imported(ACCEPT / module) if name.split(".")[0] in {"rest_framework", "drf_spectacular"}}
    assert not drf, f"router/accept/{module} imports {drf}"


def test_an_invalid_request_names_each_field_in_the_apis_order():
    with pytest.raises(InvalidMessage) as refused:
        message_request_validate(
            {"channel": "email", "zeta": 1, "to": "ada", "subject": "hi\nthere", "body": "", "alpha": 2}
        )
    assert list(refused.value.errors.items()) == [
        ("to", ["Enter a valid email address."]),
        ("body", ["This field may not be blank."]),
        ("subject", ["Must not contain line breaks or other control characters."]),
        ("alpha", ["Unknown field."]),
        ("zeta", ["Unknown field."]),
    ]


def test_rules_between_fields_run_once_every_field_passed():
    with pytest.raises(InvalidMessage) as refused:
        message_request_validate({"channel": "sms", "to": "+14155552671", "body": "hi", "data": {}})
    assert refused.value.errors == {"data": ["Only together with `template`."]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("caf\u00e9 \ud83d", ["Surrogate characters are not allowed: U+D83D."]),  # after other non-ASCII
        ("\udfff", ["Surrogate characters are not allowed: U+DFFF."]),
        ("nul\x00 and \ud800", ["Null characters are not allowed.", "Surrogate characters are not allowed: U+D800."]),
    ],
)
def test_a_lone_surrogate_or_nul_in_a_text_field_is_named(body, expected):
    with pytest.raises(InvalidMessage) as refused:
        message_request_validate({"channel": "sms", "to": "+14155552671", "body": body})
    assert refused.value.errors == {"body": expected}


def test_text_that_reads_like_an_escaped_nul_is_not_one():
    """JSON's `\\u0000` written by the caller as text (a backslash, then `u0000`) is no NUL character."""
    request = message_request_validate(
        {"channel": "sms", "to": "+14155552671", "body": "emoji \U0001f600 ok", "metadata": {"path": "C:\\u0000"}}
    )
    assert request.metadata == {"path": "C:\\u0000"}
    with pytest.raises(InvalidMessage) as refused:
        message_request_validate({"channel": "sms", "to": "+14155552671", "body": "x", "metadata": {"p": "C:\\\x00"}})
    assert refused.value.errors == {"metadata": ["Must not contain the NUL character (U+0000)."]}


DEPTH_REFUSED = f"Must be nested at most {METADATA_MAX_DEPTH} levels deep."


@pytest.mark.parametrize(
    ("metadata", "refusal"),
    [
        (nested(METADATA_MAX_DEPTH), None),
        (nested(METADATA_MAX_DEPTH + 1), DEPTH_REFUSED),
        # Brackets inside strings count toward the quick bound, never toward the depth.
        ({"text": "{[" * 40}, None),
        # Deeper than the JSON encoder goes: still the depth's message, not the size's.
        (nested(300), DEPTH_REFUSED),
        # A list deep inside, behind a flat start.
        ({"a": 1, "b": [[[nested(METADATA_MAX_DEPTH)]]]}, DEPTH_REFUSED),
    ],
)
def test_metadata_depth_is_refused_past_its_limit_only(metadata, refusal):
    try:
        json_object_check(metadata)
    except FieldError as error:
        assert str(error) == refusal
    else:
        assert refusal is None, "accepted"

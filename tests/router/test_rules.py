"""router.accept's message rules are plain Python: callable without DRF (issue 27's lean path calls
them as the serializers do), their errors a field → messages mapping in the order the API shows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from router.accept.requests import message_request_validate
from router.accept.rules import InvalidMessage

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

"""The shape docs/architecture.md promises: no product module over 450 lines, no function over 80.

A file that long holds more than one reason to change, a function that long more than one decision;
split them by reason (docs/architecture.md, "Where code goes"). Migrations, tests and the bench are
not product code. The import layers are checked by `lint-imports` (pyproject.toml) in bin/test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = (
    "config",
    "messaging",
    "delivery",
    "email_service",
    "sms_service",
    "whatsapp_service",
    "logging_service",
    "webhooks",
    "router",
    "operations",
    "engines",
)
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def product_modules() -> Iterator[Path]:
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def long_functions(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}() is {length} lines"


def test_the_product_packages_are_all_listed():
    assert list(product_modules()), "no product module found: is ROOT right?"
    assert all((ROOT / package / "__init__.py").exists() for package in PRODUCT_PACKAGES)


def test_no_product_module_is_over_450_lines():
    too_long = [
        f"{path.relative_to(ROOT)} is {lines} lines"
        for path in product_modules()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not too_long, "split by reason to change:\n" + "\n".join(too_long)


def test_no_product_function_is_over_80_lines():
    too_long = [finding for path in product_modules() for finding in long_functions(path)]
    assert not too_long, "one decision per function:\n" + "\n".join(too_long)


def test_the_code_cites_only_documents_in_the_repository():
    # The design contract the project started from is not in the repository; docs/architecture.md is.
    outside = ("DESIGN §", "DESIGN.md", "DESIGN section")
    citing = [
        str(path.relative_to(ROOT))
        for folder in (*PRODUCT_PACKAGES, "tests", "bench", "docs", "bin", "docker")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file()
        and path != Path(__file__).resolve()
        and path.suffix in {".py", ".md", ".ndjson", ".yaml", ".toml", ""}
        and any(phrase in path.read_text(errors="ignore") for phrase in outside)
    ]
    assert not citing, "cite docs/architecture.md (or another docs/ page) instead:\n" + "\n".join(citing)

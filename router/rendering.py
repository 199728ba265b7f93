"""Message templates rendered with Jinja2's sandbox: a stored template cannot reach Python internals
(`{{ ''.__class__ }}` raises SecurityError), a missing variable is an error (StrictUndefined), and a
template cannot make the API spin or fill its memory: loops over `range` share a budget per render,
`*` and `**` cannot build huge values, and rendering stops once the output passes a cap.
HTML parts are autoescaped; text parts (subject, body, SMS, WhatsApp) are not.
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

# Items all `range()` calls of one render may yield together (nested loops multiply).
RANGE_BUDGET = 10_000
# Largest string or list `*` may build, and largest exponent `**` may take.
MAX_PRODUCT_ITEMS = 100_000
MAX_EXPONENT = 100
# Rendering stops past this many characters: every channel's own limit is far below.
MAX_RENDERED_CHARS = 1024 * 1024

_range_left: contextvars.ContextVar[int] = contextvars.ContextVar("range_left", default=RANGE_BUDGET)


def _budgeted_range(*args: int) -> range:
    items = range(*args)
    left = _range_left.get() - len(items)
    if left < 0:
        raise SecurityError(f"the template's loops go over more than {RANGE_BUDGET} items")
    _range_left.set(left)
    return items


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, op: str, left: Any, right: Any) -> Any:
        if op == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponents above {MAX_EXPONENT} are not allowed")
        if op == "*":
            for sequence, count in ((left, right), (right, left)):
                sized = isinstance(sequence, str | list | tuple) and isinstance(count, int)
                if sized and len(sequence) * count > MAX_PRODUCT_ITEMS:
                    raise SecurityError(f"`*` may not build more than {MAX_PRODUCT_ITEMS} items")
        return operator.mul(left, right) if op == "*" else operator.pow(left, right)


def _environment(*, autoescape: bool) -> _Sandbox:
    environment = _Sandbox(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True)
    environment.globals["range"] = _budgeted_range
    return environment


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool) -> Template:
    return (_HTML if html else _TEXT).from_string(source)


class RenderError(Exception):
    """Why a template could not be rendered for a message; `field` names the request field to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def template_syntax_errors(parts: Mapping[str, str]) -> dict[str, list[str]]:
    """Errors of each part that does not compile (checked when a template is saved)."""
    errors: dict[str, list[str]] = {}
    for name, source in parts.items():
        try:
            _compiled(source, name == "html")
        except TemplateSyntaxError as error:
            errors[name] = [f"Template syntax error on line {error.lineno}: {error.message}"]
    return errors


@dataclass(frozen=True)
class Rendered:
    body: str
    subject: str | None = None
    html: str | None = None


def _render_part(template_name: str, part: str, source: str, data: Mapping[str, Any]) -> str:
    chunks: Iterator[str] = _compiled(source, part == "html").generate(dict(data))
    output, size = [], 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise RenderError(
                    "template",
                    f"Template {template_name!r} renders more than {MAX_RENDERED_CHARS} characters of {part}.",
                )
            output.append(chunk)
    except UndefinedError as error:
        raise RenderError(
            "data", f"Template {template_name!r} needs a value the data does not give: {error.message}."
        ) from None
    except SecurityError as error:
        raise RenderError(
            "template", f"Template {template_name!r} is not allowed to do that: {str(error).rstrip('.')}."
        ) from None
    except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
        raise RenderError(
            "template", f"Template {template_name!r} failed on this data: {str(error).rstrip('.')}."
        ) from None
    return "".join(output)


def template_render(
    *, name: str, body: str, data: Mapping[str, Any], subject: str | None = None, html: str | None = None
) -> Rendered:
    """Render each given part with the message's data; raises RenderError naming what went wrong."""
    token = _range_left.set(RANGE_BUDGET)
    try:
        return Rendered(
            body=_render_part(name, "body", body, data),
            subject=None if subject is None else _render_part(name, "subject", subject, data),
            html=None if html is None else _render_part(name, "html", html, data),
        )
    finally:
        _range_left.reset(token)

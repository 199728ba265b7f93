"""Message templates rendered with Jinja2's sandbox: a stored template cannot reach Python internals
(`{{ ''.__class__ }}` raises SecurityError), a missing variable is an error (StrictUndefined), and a
template cannot make the API spin or fill its memory: loops over `range` share a budget per render,
`*` and `**` cannot build huge values, and rendering stops once the output passes a cap.
HTML parts are autoescaped; text parts (subject, body, SMS, WhatsApp) are not.

`template_content` puts a template's rendering in place of a request's `template` and `data`, so the
channel's rules (router.accept.rules) then judge it like literal content.
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from messaging.channels import Channel
from router.accept.rules import (
    CHANNEL_CONTENT,
    TEMPLATE_DATA_MAX_BYTES,
    FieldError,
    InvalidMessage,
    excerpt,
    json_object_check,
)
from router.domain import TemplateUse
from router.models import Template as StoredTemplate

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


# A client's templates by name (None: no such template); per request, so a batch looks each up once.
TemplateSource = Callable[[str], StoredTemplate | None]


def no_templates(name: str) -> StoredTemplate | None:
    return None


def template_content(
    data: Mapping[str, Any], channel: Channel, templates: TemplateSource
) -> tuple[dict[str, Any], TemplateUse]:
    """The request with its template's rendering in place of `template` and `data`; raises
    InvalidMessage for what is wrong with the template, its data or their rendering."""
    name = data["template"]
    content = CHANNEL_CONTENT[channel].fields
    given = [field for field in content if field in data]
    if given:
        raise InvalidMessage({field: ["Not together with `template`: it gives this."] for field in given})
    if not isinstance(name, str) or not name:
        raise InvalidMessage({"template": ["Must be a template's name."]})
    try:
        variables = json_object_check(data.get("data", {}), max_bytes=TEMPLATE_DATA_MAX_BYTES)  # null: not an object
    except FieldError as error:
        raise InvalidMessage({"data": error.messages}) from None
    template = templates(name)
    if template is None:
        raise InvalidMessage({"template": [f"No template named {excerpt(name)}."]})
    if template.channel != channel.value:
        raise InvalidMessage(
            {"template": [f"Template {excerpt(name)} is for {template.channel} messages, not {channel.value}."]}
        )
    try:
        rendered = template_render(
            name=name,
            body=template.body,
            data=variables,
            subject=template.subject if "subject" in content else None,
            html=(template.html or None) if "html" in content else None,
        )
    except RenderError as error:
        raise InvalidMessage({error.field: [error.message]}) from None
    literal = {key: value for key, value in data.items() if key not in ("template", "data")}
    literal["body"] = rendered.body
    for field in ("subject", "html"):
        if getattr(rendered, field) is not None:
            literal[field] = getattr(rendered, field)
    return literal, TemplateUse(name=name, version=template.version, data=variables)


def template_blamed(error: InvalidMessage, channel: Channel) -> InvalidMessage:
    """Errors in the rendered content are the template's: the client did not send those fields."""
    errors = dict(error.errors)
    blamed: list[str] = []
    for field in CHANNEL_CONTENT[channel].fields:
        if field in errors:
            blamed += [f"The rendered {field}: {message}" for message in errors.pop(field)]
    if blamed:
        errors["template"] = [*errors.get("template", []), *blamed]
    return InvalidMessage(errors)

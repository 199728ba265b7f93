"""Posting to the API's Twilio webhooks from a test, as Twilio does: form-encoded, signed with the
auth token over the URL (the library's RequestValidator)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

FORM = "application/x-www-form-urlencoded"


def post_signed(client: Any, path: str, params: dict[str, str], *, token: str) -> Any:
    """POST `params` to `path` with Django's test client, signed with `token`."""
    url = f"http://testserver{path}"
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(url, urlencode(params), content_type=FORM, HTTP_X_TWILIO_SIGNATURE=signature)

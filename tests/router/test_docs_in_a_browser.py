"""Swagger UI and ReDoc render the API's operations in a real headless Chromium, from the project's
own static files: no CDN, so they work where there is no internet (as on this machine)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from tests.browser import needs_chromium, rendered_dom

pytestmark = [needs_chromium, pytest.mark.django_db(databases=["default"])]

SCREENSHOTS = settings.VAR_DIR / "test-artifacts"


def test_swagger_ui_renders_every_operation(live_server):
    dom = rendered_dom(f"{live_server.url}/api/docs/", screenshot=SCREENSHOTS / "swagger-ui.png")
    assert "swagger-ui" in dom
    for path in ("/api/v1/messages", "/api/v1/messages/batch", "/api/v1/messages/{message_id}"):
        assert f'data-path="{path}"' in dom, f"{path} not rendered"
    assert "Send a message" in dom  # an operation summary: the schema was fetched and rendered


def test_redoc_renders_the_operations(live_server):
    dom = rendered_dom(f"{live_server.url}/api/redoc/")
    assert "Send up to 1000 messages" in dom


def test_the_docs_pages_load_nothing_from_outside(client):
    for url in ("/api/docs/", "/api/redoc/"):
        page = client.get(url).content.decode()
        external = [
            src for src in re.findall(r'(?:src|href)="([^"]+)"', page) if src.startswith(("http:", "https:", "//"))
        ]
        assert external == [], external

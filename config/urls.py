"""Top-level URLs: the API, its schema and docs, health probes and admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from router.health import healthz, metrics, readyz
from router.provider_webhooks import anymail_urls
from router.views.not_found import api_not_found
from router.views.trace_page import message_trace_page

urlpatterns = [
    path("admin/", admin.site.urls),
    # Email receipts from ESPs: anymail's tracking webhooks (router.esp_receipts applies them), closed
    # (404) without ANYMAIL_WEBHOOK_SECRET (router.provider_webhooks).
    path("api/v1/providers/anymail/", include(anymail_urls())),
    path("api/v1/", include("router.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="router/redoc.html"), name="redoc"
    ),
    # Any other path under /api/ answers a JSON 404, as those under /api/v1/ do.
    re_path(r"^api/(?P<path>[\s\S]*)$", api_not_found, name="api-not-found-outside-v1"),
    path("messages/<uuid:message_id>", message_trace_page, name="message-trace"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
]

"""Routes under /api/v1/."""

from django.urls import URLPattern, path, re_path

from router.provider_webhooks import closed_unless, twilio_webhooks_open
from router.views.batch import MessageBatchView
from router.views.cancel import MessageCancelView
from router.views.detail import MessageDetailView
from router.views.messages import MessagesView
from router.views.not_found import api_not_found
from router.views.receipts import TwilioInboundMessageView, TwilioStatusCallbackView
from router.views.suppressions import SuppressionDetailView
from router.views.templates import TemplateDetailView, TemplatesView
from router.views.webhooks import WebhookDetailView, WebhookEnableView, WebhooksView

twilio = closed_unless(twilio_webhooks_open)

urlpatterns: list[URLPattern] = [
    path("messages", MessagesView.as_view(), name="messages"),
    path("messages/batch", MessageBatchView.as_view(), name="message-batch"),
    path("messages/<uuid:message_id>", MessageDetailView.as_view(), name="message-detail"),
    path("messages/<uuid:message_id>/cancel", MessageCancelView.as_view(), name="message-cancel"),
    path("templates", TemplatesView.as_view(), name="templates"),
    path("webhooks", WebhooksView.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>", WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<uuid:endpoint_id>/enable", WebhookEnableView.as_view(), name="webhook-enable"),
    # Closed (404) without TWILIO_AUTH_TOKEN: nothing could check Twilio's signature.
    path("providers/twilio/status", twilio(TwilioStatusCallbackView.as_view()), name="twilio-status"),
    path("providers/twilio/inbound", twilio(TwilioInboundMessageView.as_view()), name="twilio-inbound"),
    path("suppressions/<str:channel>/<str:recipient>", SuppressionDetailView.as_view(), name="suppression-detail"),
    path("templates/<str:name>", TemplateDetailView.as_view(), name="template-detail"),
    # Last: whatever is left under /api/v1/ gets a JSON 404 ([\s\S], not `.`: a path with an encoded line
    # break, `/api/v1/messages/%0A`, must not fall through to Django's HTML page).
    re_path(r"^(?P<path>[\s\S]*)$", api_not_found, name="api-not-found"),
]

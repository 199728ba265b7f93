"""Routes under /api/v1/."""

from django.urls import URLPattern, path

from router.views.detail import MessageDetailView
from router.views.messages import MessageBatchView, MessageCreateView

urlpatterns: list[URLPattern] = [
    path("messages", MessageCreateView.as_view(), name="message-create"),
    path("messages/batch", MessageBatchView.as_view(), name="message-batch"),
    path("messages/<uuid:message_id>", MessageDetailView.as_view(), name="message-detail"),
]

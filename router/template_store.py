"""Writes of message templates (per client). A change bumps the version; messages keep the version
they were rendered from (router.models.Message.template_version)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, router
from django.db.models import F
from django.utils import timezone

from config.db_writes import write_transaction
from router.domain import Client
from router.models import Template


class TemplateNameTaken(Exception):
    pass


def template_create(*, client: Client, fields: dict[str, Any]) -> Template:
    now = timezone.now()
    try:
        with write_transaction(router.db_for_write(Template)):
            return Template.objects.create(client=client.id, created_at=now, updated_at=now, **fields)
    except IntegrityError:
        raise TemplateNameTaken(fields["name"]) from None


def template_update(*, template: Template, fields: dict[str, Any]) -> Template:
    """Replace the content (PUT); the name stays."""
    with write_transaction(router.db_for_write(Template)):
        Template.objects.filter(pk=template.pk).update(
            **fields,
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
    template.refresh_from_db()
    return template


def template_delete(*, template: Template) -> None:
    """Messages already rendered from it keep their content; new ones naming it get a 400."""
    with write_transaction(router.db_for_write(Template)):
        template.delete()

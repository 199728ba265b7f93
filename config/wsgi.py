"""WSGI entry point (gunicorn config.wsgi): the lean front (router.lean) before Django's application;
it answers valid `POST /api/v1/messages` and `/batch` itself and hands every other request to Django."""

import logging
import os

from django.core import checks
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django_application = get_wsgi_application()

# Once the apps are loaded:
from router.lean.front import LeanFront  # noqa: E402
from router.provider_webhooks import CHECK_TAG  # noqa: E402

application = LeanFront(django_application)

# gunicorn runs no system checks: the warnings an operator must not miss are logged as the API starts
# (a provider in use whose webhooks stay closed without their secret, router.provider_webhooks).
for _message in checks.run_checks(tags=[CHECK_TAG]):
    logging.getLogger("config.wsgi").warning("%s", _message)

"""WSGI entry point (gunicorn config.wsgi)."""

import logging
import os

from django.core import checks
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
application = get_wsgi_application()

from router.provider_webhooks import CHECK_TAG  # noqa: E402  (once the apps are loaded)

# gunicorn runs no system checks: the warnings an operator must not miss are logged as the API starts
# (a provider in use whose webhooks stay closed without their secret, router.provider_webhooks).
for _message in checks.run_checks(tags=[CHECK_TAG]):
    logging.getLogger("config.wsgi").warning("%s", _message)

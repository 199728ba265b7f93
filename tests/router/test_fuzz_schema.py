"""schemathesis over /api/schema/: every operation, positive and negative cases, against the WSGI app."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from tests.delivery.support import CHANNEL_DBS

CONFIG = {
    "generation": {"mode": "all", "max-examples": 60},
    "checks": {
        # Schema-valid is not always valid: a phone number's numbering plan, Django's email rules,
        # the body's UTF-8 size, an Idempotency-Key already used with another body (422) and a template
        # name already taken (409) are checked beyond what JSON Schema can say. Anything else (413,
        # 415, 405, 5xx) still fails.
        "positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 404, 409, 422, 429]},
    },
    # A batch's items are judged one by one: a batch with schema-breaking items is a 202 whose result
    # for each says why (as schemathesis.toml says for the live run).
    "operations": [
        {
            "include-operation-id": "messages_batch_create",
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": [202, 400, 401, 403, 404, 405, 406, 409, 415, 422, 428, 429]
                }
            },
        }
    ],
}
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", get_wsgi_application(), config=schemathesis.Config.from_dict(CONFIG)
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Django closes connections per request; that would close the test's transaction-wrapped
    connection (Django's own test client disconnects it the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
# One API key per operation on purpose: every generated case authenticates with it.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.django_db(databases=CHANNEL_DBS)  # listing and cancel read the delivery records
@pytest.mark.usefixtures("own_topics")
def test_api_conforms_to_its_schema(case, api_key):
    case.call_and_validate(headers={"Authorization": f"Api-Key {api_key.raw_key}"})

"""Test settings: a topic and index prefix of this run's own, and file-backed test databases so
that worker processes started by tests see what the tests write, in a folder of this run's own
(bin/test runs two pytest sessions side by side)."""

import os
import uuid
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR

# Inherited by subprocesses the tests start, so they use the same prefix.
TEST_RUN_ID = os.environ.setdefault("COMMS_TEST_RUN_ID", uuid.uuid4().hex[:8])
KAFKA_TOPIC_PREFIX = f"t{TEST_RUN_ID}."
LOG_INDEX_PREFIX = f"t{TEST_RUN_ID}-comms-logs"
KAFKA_TOPIC_PARTITIONS = 2

# Processes started by tests (workers, relay, API) set COMMS_USE_TEST_DATABASES=1 to open the
# databases pytest-django created, instead of the development ones.
_USE_TEST_DATABASES = os.environ.get("COMMS_USE_TEST_DATABASES") == "1"
# Inherited like the run id, but kept when a test gives its processes a run id of their own (topics
# of their own, tests/delivery/support.py): they still open the session's databases.
TEST_DATABASE_DIR = Path(os.environ.setdefault("COMMS_TEST_DATABASE_DIR", str(VAR_DIR / "test-db" / TEST_RUN_ID)))
for _alias, _database in DATABASES.items():
    if _database["ENGINE"] == "django.db.backends.sqlite3":
        _test_name = str(TEST_DATABASE_DIR / f"{_alias}.sqlite3")
    else:  # a server database (bin/test --postgres): Django's test database beside it
        _test_name = f"test_{_database['NAME']}"
    _database["TEST"] = {"NAME": _test_name}
    if _USE_TEST_DATABASES:
        _database["NAME"] = _test_name
# Made by the pytest session (tests/conftest.py), not here: mypy and `manage.py check` read these settings too.

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; never in production
# pytest turns DEBUG off and tests never run collectstatic: WhiteNoise looks static files up per
# request instead of scanning a STATIC_ROOT that does not exist (and warning about it).
WHITENOISE_AUTOREFRESH = True

"""Each channel app's rows live in its own SQLite file and nowhere else (docs/architecture.md)."""

import sqlite3

import pytest
from django.db import connections

from tests.factories import EmailDeliveryFactory, SmsDeliveryFactory, WhatsAppDeliveryFactory

ALL = ["default", "email", "sms", "whatsapp"]


def tables_and_ids(alias: str, table: str) -> list[str] | None:
    """Message ids in `table` of the alias's SQLite file, read straight from disk; None if no table."""
    path = connections[alias].settings_dict["NAME"]
    with sqlite3.connect(path) as raw:
        exists = raw.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()
        if not exists:
            return None
        return [row[0] for row in raw.execute(f"SELECT message_id FROM {table}")]


def table_names(alias: str) -> set[str]:
    with sqlite3.connect(connections[alias].settings_dict["NAME"]) as raw:
        return {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.mark.django_db(databases=ALL, transaction=True)
@pytest.mark.parametrize(
    ("factory", "alias", "table"),
    [
        (EmailDeliveryFactory, "email", "email_service_emaildelivery"),
        (SmsDeliveryFactory, "sms", "sms_service_smsdelivery"),
        (WhatsAppDeliveryFactory, "whatsapp", "whatsapp_service_whatsappdelivery"),
    ],
)
def test_channel_model_is_written_to_its_own_sqlite_file_only(factory, alias, table):
    record = factory()

    assert tables_and_ids(alias, table) == [record.message_id.hex]
    for other in (a for a in ALL if a != alias):
        assert tables_and_ids(other, table) is None, f"{table} must not exist in {other}"
    assert len({connections[a].settings_dict["NAME"] for a in ALL}) == 4


@pytest.mark.django_db(databases=ALL)
def test_sqlite_runs_in_wal_mode_with_immediate_transactions():
    for alias in ALL:
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
        assert connections[alias].settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.django_db(databases=ALL)
def test_auth_tables_live_only_in_the_router_database():
    assert "auth_user" in table_names("default")
    for alias in ("email", "sms", "whatsapp"):
        names = table_names(alias)
        assert not any(name.startswith(("auth_", "django_admin")) for name in names), (alias, names)

"""Read what the services recorded: the router's accept time and each channel's sent time, straight
from their SQLite files (read-only), so accept→sent latency comes from the system's own timestamps.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CHANNEL_TABLES = {
    "email": "email_service_emaildelivery",
    "sms": "sms_service_smsdelivery",
    "whatsapp": "whatsapp_service_whatsappdelivery",
}


def db_time(moment: datetime) -> str:
    """How Django's SQLite backend stores an aware datetime (UTC, no offset): comparable as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Delivery:
    channel: str
    accepted_at: float  # router Message.created_at (epoch seconds)
    sent_at: float  # channel delivery record's sent_at


class Ledger:
    def __init__(self, databases: dict[str, Path]) -> None:
        self.databases = databases

    def _connect(self, alias: str) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.databases[alias]}?mode=ro", uri=True, timeout=30)

    def accepted(self) -> int:
        with closing(self._connect("router")) as db:
            return int(db.execute("SELECT COUNT(*) FROM router_message").fetchone()[0])

    def sent(self) -> int:
        total = 0
        for channel, table in CHANNEL_TABLES.items():
            with closing(self._connect(channel)) as db:
                total += int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE status = 'sent'").fetchone()[0])
        return total

    def deliveries(self, *, accepted_from: datetime, accepted_until: datetime) -> list[Delivery]:
        """Every message the router accepted in the window, with the time its channel sent it."""
        found: list[Delivery] = []
        for channel, table in CHANNEL_TABLES.items():
            with closing(self._connect(channel)) as db:
                db.execute("ATTACH DATABASE ? AS router", (f"file:{self.databases['router']}?mode=ro",))
                rows = db.execute(
                    f"SELECT m.created_at, d.sent_at FROM {table} d JOIN router.router_message m "
                    "ON m.id = d.message_id WHERE d.status = 'sent' AND m.created_at >= ? AND m.created_at < ?",
                    (db_time(accepted_from), db_time(accepted_until)),
                ).fetchall()
            found += [Delivery(channel, _parse(created), _parse(sent)) for created, sent in rows]
        return found

    def scheduled_lateness(self) -> list[float]:
        """For every scheduled message the relay published: seconds from its sendAt to Kafka's ack
        (the outbox entry's published_at), negative if it went out early."""
        with closing(self._connect("router")) as db:
            rows = db.execute(
                "SELECT m.send_at, o.published_at FROM router_message m JOIN router_outboxentry o "
                "ON o.message_id = m.id WHERE m.send_at IS NOT NULL AND o.published_at IS NOT NULL"
            ).fetchall()
        return [_parse(published) - _parse(send_at) for send_at, published in rows]

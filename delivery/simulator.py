"""The simulated provider: really records each send it performs in its channel's ledger table.

Behaviour comes from two places: per-channel settings (latency, random transient-failure rate; for
demos and load tests) and `metadata.simulate` of the message (deterministic, for tests):
`{"failTimes": n}` fails attempts 1..n transiently, `{"permanent": true}` fails permanently,
`{"latencyMs": m}` overrides the latency. Attempts are counted from the envelope's attempt number,
not from local state, so the outcome is the same in whichever process or restart handles it.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import connections, router

from config.db_writes import group_write
from delivery.errors import PermanentProviderError, TransientProviderError
from delivery.models import SimulatedSend
from delivery.providers import Provider, SendRequest, SendResult
from messaging.channels import Channel


@dataclass(frozen=True)
class SimulatorSettings:
    latency_ms: float = 0.0
    failure_rate: float = 0.0

    @classmethod
    def for_channel(cls, channel: Channel) -> SimulatorSettings:
        return cls(**settings.DELIVERY_SIMULATOR[channel.value])


@dataclass(frozen=True)
class SimulateControls:
    """`metadata.simulate` of one message, validated."""

    fail_times: int = 0
    permanent: bool = False
    latency_ms: float | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> SimulateControls:
        raw = metadata.get("simulate")
        if not isinstance(raw, Mapping):
            return cls()
        fail_times, latency = raw.get("failTimes", 0), raw.get("latencyMs")
        return cls(
            fail_times=fail_times if isinstance(fail_times, int) and fail_times > 0 else 0,
            permanent=raw.get("permanent") is True,
            latency_ms=float(latency) if isinstance(latency, int | float) and latency >= 0 else None,
        )

    @property
    def deterministic(self) -> bool:
        return self.permanent or self.fail_times > 0


class SimulatedLedger:
    """Performs simulated sends against one ledger model (the channel's concrete SimulatedSend)."""

    def __init__(self, ledger_model: type[SimulatedSend], config: SimulatorSettings) -> None:
        self.ledger_model = ledger_model
        self.config = config
        self._alias = router.db_for_write(ledger_model)
        self._fields = [field for field in ledger_model._meta.concrete_fields if not field.primary_key]

    def send(self, request: SendRequest) -> SendResult:
        earlier = self._earlier_send(request.idempotency_key)
        if earlier is not None:
            return SendResult(provider_message_id=earlier)
        controls = SimulateControls.from_metadata(request.metadata)
        latency_ms = self.config.latency_ms if controls.latency_ms is None else controls.latency_ms
        # Sleep outside any transaction: SQLite has one writer, and holding its lock for the
        # simulated round trip would serialise every thread of the worker.
        if latency_ms > 0:
            time.sleep(latency_ms / 1000)
        if controls.permanent:
            raise PermanentProviderError("simulated permanent failure (metadata.simulate.permanent)")
        if request.attempt <= controls.fail_times:
            raise TransientProviderError(
                f"simulated transient failure {request.attempt} of {controls.fail_times} (metadata.simulate.failTimes)"
            )
        if not controls.deterministic and random.random() < self.config.failure_rate:
            raise TransientProviderError(f"simulated random transient failure (rate {self.config.failure_rate})")
        return SendResult(provider_message_id=self._record(request))

    def _earlier_send(self, key: str) -> str | None:
        return (
            self.ledger_model.objects.using(self._alias)
            .filter(idempotency_key=key)
            .values_list("provider_message_id", flat=True)
            .first()
        )

    def _record(self, request: SendRequest) -> str:
        send = self.ledger_model(
            idempotency_key=request.idempotency_key,
            provider_message_id=f"sim-{secrets.token_hex(12)}",
            trace_id=request.trace_id,
            recipient=request.to,
            subject=request.subject or "",
            body=request.body,
            attempt=request.attempt,
        )

        def write() -> str:
            if self._insert_unless_sent(send):
                return send.provider_message_id
            earlier = self._earlier_send(request.idempotency_key)  # a concurrent send with this key won
            assert earlier is not None
            return earlier

        return group_write(self._alias, write)

    def _insert_unless_sent(self, send: SimulatedSend) -> bool:
        """Insert `send` unless its idempotency key is in the ledger already, in one statement.

        Writes to one database run one at a time (the committer, or SQLite's single write lock), so
        two concurrent sends with one key cannot both insert; the key stays deliberately non-unique
        (see SimulatedSend). One statement instead of the ORM's SELECT + INSERT: this runs on the
        committer, the serial part of a worker.
        """
        connection = connections[self._alias]
        # pre_save fills auto_now_add (sent_at) as save() would; get_db_prep_save adapts per backend.
        values = [field.get_db_prep_save(field.pre_save(send, add=True), connection) for field in self._fields]
        with connection.cursor() as cursor:
            cursor.execute(self._insert_sql, [*values, send.idempotency_key])
            return cursor.rowcount == 1

    @cached_property
    def _insert_sql(self) -> str:
        quote, meta = connections[self._alias].ops.quote_name, self.ledger_model._meta
        table, key = quote(meta.db_table), quote(meta.get_field("idempotency_key").column)
        return (
            f"INSERT INTO {table} ({', '.join(quote(field.column) for field in self._fields)}) "
            f"SELECT {', '.join(['%s'] * len(self._fields))} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {key} = %s)"
        )


class SimulatedProvider(Provider):
    """A channel's simulated provider: subclasses name their channel and ledger model."""

    channel: Channel
    ledger_model: type[SimulatedSend]

    def __init__(self, config: SimulatorSettings | None = None) -> None:
        self.ledger = SimulatedLedger(self.ledger_model, config or SimulatorSettings.for_channel(self.channel))

    def send(self, request: SendRequest) -> SendResult:
        return self.ledger.send(request)

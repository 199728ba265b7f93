"""How a consumer sorts what its steps raise, written once and named in its definition (registry.py).

Two kinds, two fates (guard.py decides them):
- infrastructure: a dependency is down, locked or unreachable (the database, the broker,
  Elasticsearch). The same record will succeed later, so the step is retried with backoff for as long
  as it takes; nothing is skipped and nothing is dead-lettered.
- anything else: the record itself may be poison (a constraint, a value too long, a bug). The step is
  retried a few times, then the record is isolated and dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import InterfaceError, OperationalError

from messaging.errors import PublishError


@dataclass(frozen=True)
class FailureClassifier:
    infrastructure: tuple[type[Exception], ...]

    def is_infrastructure(self, error: BaseException) -> bool:
        """True when `error` says a dependency is unavailable, not that the record is bad."""
        return isinstance(error, self.infrastructure)


# Down, locked, unreachable: wait and try again, never dead-letter. Other database errors (a
# constraint, a value too long) belong to a record and count towards its dead letter. A record or log
# event Kafka did not acknowledge (PublishError) is the broker's failure, not the record's.
DATABASE_OR_BROKER_DOWN = FailureClassifier(infrastructure=(OperationalError, InterfaceError, PublishError))

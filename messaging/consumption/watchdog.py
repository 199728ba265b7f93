"""Consumers that always rejoin: a consumer out of its group for too long is closed and rebuilt.

librdkafka can leave a consumer outside its group for good after the group's coordinator went away
and came back: its requests to the coordinator sit in a queue, it never gets partitions again, and
nothing in the client reports an error (librdkafka issues 2944, 3396 and 3740 describe such states;
3740, still open, is the same coordinator loop holding `close()` forever). The process looks alive
while its channel stops. The watchdog notices the symptom instead of the cause:

    no partition held that it can read (assigned partitions with no fetch position count as none:
    seen after a hung broker came back, the committed offsets' fetch failed with NOT_COORDINATOR and
    was never retried), or no group membership (librdkafka's statistics: coordinator "up", join
    state "steady"), for longer than CONSUMER_REJOIN_TIMEOUT
    → ask the cluster through a client of its own (the stuck one may not answer):
      do the consumer's topics have partitions?   no  → nothing to hold, not stuck
      is it a member with nothing assigned to it? yes → idle by design (more members than
      partitions), not stuck
      the cluster does not answer                      → ask again a little later
    → otherwise the runner closes the client (bounded) and builds a new one (runner.py).

`RejoinWatchdog` is the decision alone, on a clock it is given (unit-tested without Kafka);
`GroupProbe` asks the cluster; `ConsumerWatch` puts both together for the runner.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka.admin import AdminClient

from messaging.clients import RebuildableConsumer, build_admin

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

# How often the runner looks (assignment and group state are local: no broker round trip).
CHECK_SECONDS = 5.0
# When the cluster could not answer whether the consumer is stuck, ask again after this.
RETRY_SECONDS = 10.0
# How long a question to the cluster may take.
PROBE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Health:
    """What the consumer's own client says at one moment."""

    assigned: bool  # holds at least one partition it can read (a fetch position, when reported)
    member: bool | None  # a steady member of its group; None until librdkafka first reported

    @property
    def in_group(self) -> bool:
        return self.assigned and self.member is not False


class RejoinWatchdog:
    """Decides when a consumer has been out of its group for longer than `timeout` seconds.

    `observe` is called now and then with what the client says; it answers how long the consumer
    has been out when that is past the timeout (and no earlier answer is being waited on), else
    None. The caller then confirms with the cluster and reports back: `rebuilt`, `not_stuck` (the
    timer starts afresh) or `unsure` (ask again after `retry_seconds`)."""

    def __init__(self, *, timeout: float, retry_seconds: float = RETRY_SECONDS, clock: Clock = time.monotonic) -> None:
        self._timeout = timeout
        self._retry = retry_seconds
        self._clock = clock
        self._out_since: float | None = None
        self._not_before = 0.0

    def observe(self, health: Health) -> float | None:
        now = self._clock()
        if health.in_group:
            self._out_since = None
            self._not_before = 0.0
            return None
        if self._out_since is None:
            self._out_since = now
        out_for = now - self._out_since
        if out_for <= self._timeout or now < self._not_before:
            return None
        return out_for

    def rebuilt(self) -> None:
        """A new client: it has the whole timeout to join."""
        self._out_since = self._clock()
        self._not_before = 0.0

    def not_stuck(self) -> None:
        """Out of the group for a reason (no partitions, idle member): look again after a timeout."""
        self.rebuilt()

    def unsure(self) -> None:
        self._not_before = self._clock() + self._retry


class Verdict(enum.Enum):
    STUCK = "stuck"
    NO_PARTITIONS = "its topics have no partitions"
    IDLE_MEMBER = "a member with nothing assigned (more members than partitions)"
    UNKNOWN = "the cluster did not answer"


class GroupProbe:
    """Asks the cluster, through an admin client of its own, what a stuck consumer's client cannot."""

    def __init__(self, *, group: str, topics: Sequence[str], admin: Callable[[], AdminClient]) -> None:
        self._group = group
        # librdkafka reads a subscription starting with "^" as a regular expression.
        self._patterns = [re.compile(topic) for topic in topics if topic.startswith("^")]
        self._names = {topic for topic in topics if not topic.startswith("^")}
        self._build_admin = admin
        self._admin: AdminClient | None = None

    def verdict(self, *, member: bool | None, member_id: str | None) -> Verdict:
        try:
            if self._admin is None:
                self._admin = self._build_admin()
            if not self._partitions(self._admin):
                return Verdict.NO_PARTITIONS
            if member and member_id and self._idle_member(self._admin, member_id):
                return Verdict.IDLE_MEMBER
        except Exception as error:  # any failure to ask means: not known yet
            logger.info("rejoin watchdog: could not ask the cluster about group %s: %s", self._group, error)
            return Verdict.UNKNOWN
        return Verdict.STUCK

    def _partitions(self, admin: AdminClient) -> int:
        topics = admin.list_topics(timeout=PROBE_TIMEOUT_SECONDS).topics
        return sum(len(metadata.partitions) for name, metadata in topics.items() if self._subscribed(name))

    def _subscribed(self, topic: str) -> bool:
        return topic in self._names or any(pattern.match(topic) for pattern in self._patterns)

    def _idle_member(self, admin: AdminClient, member_id: str) -> bool:
        """The coordinator lists the consumer as a member and assigned nothing to it."""
        (future,) = admin.describe_consumer_groups([self._group], request_timeout=PROBE_TIMEOUT_SECONDS).values()
        group = future.result(timeout=PROBE_TIMEOUT_SECONDS)
        for described in group.members:
            if described.member_id == member_id:
                assignment = described.assignment
                return not (assignment and assignment.topic_partitions)
        return False


class ConsumerWatch:
    """The runner's side: `due()` every loop answers how long the consumer has been out of its group
    when the runner should rebuild it now (None otherwise); the runner calls `rebuilt()` after."""

    def __init__(
        self,
        consumer: RebuildableConsumer,
        *,
        group: str,
        topics: Sequence[str],
        timeout: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._group = group
        self._watchdog = RejoinWatchdog(timeout=timeout, clock=clock)
        self._probe = GroupProbe(
            group=group,
            topics=topics,
            admin=lambda: build_admin(**{"bootstrap.servers": consumer.bootstrap_servers}),
        )
        self._clock = clock
        self._next_check = 0.0

    def due(self) -> float | None:
        now = self._clock()
        if now < self._next_check:
            return None
        self._next_check = now + CHECK_SECONDS
        state = self._consumer.group_state
        member = None if state is None else state.member
        assigned = bool(self._consumer.assignment()) and (state is None or state.fetching > 0)
        out_for = self._watchdog.observe(Health(assigned=assigned, member=member))
        if out_for is None:
            return None
        verdict = self._probe.verdict(member=member, member_id=self._consumer.memberid())
        if verdict is Verdict.STUCK:
            return out_for
        if verdict is Verdict.UNKNOWN:
            self._watchdog.unsure()
        else:
            logger.info("group %s: no partitions for %.0fs, not stuck: %s", self._group, out_for, verdict.value)
            self._watchdog.not_stuck()
        return None

    def rebuilt(self) -> None:
        self._watchdog.rebuilt()

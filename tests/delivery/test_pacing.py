"""The provider's pace: the shared cap (a GCRA row in the channel database, taken by several worker
instances) and the rate learned from slow-down answers (halved at once, recovered a little each second)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from delivery.pacing import Pace, Paces, SharedBucket, shared_burst
from delivery.rates import Rate, rates_per_provider
from delivery.registry import get_channel
from delivery.token_bucket import Gcra, grant_prefix
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rates_parse_per_second_and_refuse_what_does_not_parse():
    assert Rate.parse("20/s") == Rate(20.0)
    assert Rate.parse("1200/min") == Rate(20.0)
    assert Rate.parse(" 3600 / h ") == Rate(1.0)
    assert Rate.parse("") is None
    for bad in ("20", "20/day", "-1/s", "0/s", "fast"):
        with pytest.raises(ValueError, match="rate"):
            Rate.parse(bad)


def test_a_bad_rate_limit_setting_is_refused_naming_it(settings):
    settings.EMAIL_URL = "smtp://a:25 smtp://b:25"
    for bad in ("20 per second", "20/s 10/s 5/s"):
        settings.DELIVERY_RATE_LIMITS = {**settings.DELIVERY_RATE_LIMITS, "email": bad}
        with pytest.raises(ImproperlyConfigured, match="EMAIL_RATE_LIMIT"):
            get_channel(Channel.EMAIL).rate_limits()
    settings.DELIVERY_RATE_LIMITS = {**settings.DELIVERY_RATE_LIMITS, "email": "20/s 100/s"}
    assert get_channel(Channel.EMAIL).rate_limits() == {"smtp://a:25": Rate(20.0), "smtp://b:25": Rate(100.0)}


@pytest.mark.parametrize("command", ["check", "relay_outbox"])
def test_a_bad_rate_limit_setting_stops_any_process_at_start_up_naming_it(command):
    """The settings keep the value as written; the channel parses it when it registers (django.setup()),
    so the API and the relay refuse it as the worker does."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "SMS_RATE_LIMIT": "20 per second"}
    done = subprocess.run([sys.executable, "manage.py", command], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "ImproperlyConfigured: SMS_RATE_LIMIT" in done.stderr


def test_each_provider_has_its_own_limit():
    two = ["smtp://a:25", "smtp://b:587"]
    assert rates_per_provider("20/s 100/s", two) == {"smtp://a:25": Rate(20.0), "smtp://b:587": Rate(100.0)}
    assert rates_per_provider("1200/min", two) == dict.fromkeys(two, Rate(20.0))
    assert rates_per_provider("", two) == {}


def test_a_failover_worker_paces_each_provider_apart():
    made: list[str] = []

    def pace(provider: str) -> Pace:
        made.append(provider)
        return Pace(cap=None, shared=None)

    paces = Paces(pace)
    assert paces.of("primary") is paces.of("primary")
    paces.of("primary").throttled(retry_after=30.0)
    assert paces.of("backup").grant([1]) == (1, 0.0)  # the primary's slow-down answer holds only the primary
    assert paces.of("primary").grant([1])[0] == 0
    assert made == ["primary", "backup"]


def test_grant_prefix_takes_the_leading_costs_that_fit():
    assert grant_prefix([1, 1, 1], 2) == 2
    assert grant_prefix([2, 3, 1], 4) == 1
    assert grant_prefix([5], 4) == 0


def test_gcra_allows_a_burst_then_the_rate():
    bucket, tat, now = Gcra(rate=10.0, burst=5.0), 0.0, 100.0
    count, tat = bucket.take(tat, [1] * 8, now)
    assert count == 5  # the burst
    count, tat = bucket.take(tat, [1] * 8, now)
    assert count == 0
    assert bucket.wait(tat, 1, now) == pytest.approx(0.1)
    count, tat = bucket.take(tat, [1] * 8, now + 0.35)
    assert count == 3  # 0.35 s at 10/s


def test_a_message_costing_more_than_the_burst_goes_alone_once_the_bucket_is_full():
    bucket = Gcra(rate=1.0, burst=1.0)
    assert bucket.take(0.0, [3, 1], 100.0)[0] == 1


def test_a_slow_down_answer_halves_what_the_process_sends_and_quiet_seconds_bring_it_back():
    clock = Clock()
    pace = Pace(cap=None, shared=None, clock=clock)
    # Unlimited: a whole wave at once, 40 calls in the last second.
    assert pace.grant([1] * 40) == (40, 0.0)
    pace.throttled(retry_after=None)
    assert pace.learned is not None and pace.learned.rate == pytest.approx(20.0)
    count, wait = pace.grant([1] * 40)
    assert count == 0 and wait > 0  # paused for one interval
    clock.now += 0.05
    sent = 0
    for _ in range(100):  # one second at the learned rate
        clock.now += 0.01
        sent += pace.grant([1] * 40)[0]
    assert 15 <= sent <= 31  # 20/s, plus a half-second burst
    rate_after_a_second = pace.learned.rate if pace.learned else None
    assert rate_after_a_second is not None and rate_after_a_second > 20.0  # additive increase
    # A second decrease within the same congestion event does not halve again.
    pace.throttled(retry_after=None)
    pace.throttled(retry_after=None)
    assert pace.learned is not None and pace.learned.rate >= 10.0


def test_retry_after_pauses_every_call():
    clock = Clock()
    pace = Pace(cap=Rate(100.0), shared=None, clock=clock)
    pace.throttled(retry_after=2.0)
    assert pace.grant([1])[0] == 0
    clock.now += 2.01
    assert pace.grant([1])[0] == 1


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_the_cap_holds_across_worker_instances_sharing_the_channel_database():
    """Three instances (three buckets on one row) asking as fast as they can for 2 s of a fake clock:
    together they get the rate, plus one burst."""
    spec = get_channel(Channel.EMAIL)
    rate = Rate.parse("20/s")
    assert rate is not None
    burst = shared_burst(rate, wave_size=8)
    instances = [
        SharedBucket(model=spec.pace_model, database=spec.database, key="email:test", rate=rate, burst=burst)
        for _ in range(3)
    ]
    granted, now = 0, 5_000.0
    while now < 5_002.0:
        for bucket in instances:
            granted += bucket.take([1] * 8, now)[0]
        now += 0.01
    assert 40 <= granted <= 40 + burst + 1


def test_sms_and_whatsapp_pay_their_rate_in_segments_email_per_message():
    from tests.delivery.support import make_envelope

    long_text = "x" * 161  # GSM-7: two parts
    assert get_channel(Channel.SMS).rate_cost(make_envelope(Channel.SMS, body=long_text)) == 2
    assert get_channel(Channel.WHATSAPP).rate_cost(make_envelope(Channel.WHATSAPP, body="hi")) == 1
    assert get_channel(Channel.EMAIL).rate_cost(make_envelope(Channel.EMAIL, body=long_text)) == 1


def test_the_high_lane_runs_a_burst_ahead_of_the_rate_and_the_others_pay_it_back():
    bucket, now = Gcra(rate=10.0, burst=5.0), 100.0
    count, tat = bucket.take(0.0, [1] * 5, now)
    assert count == 5  # the bucket is empty now
    assert bucket.take(tat, [1], now)[0] == 0  # a low message waits
    count, tat = bucket.take(tat, [1] * 8, now, borrow=True)
    assert count == 5  # high messages go: one burst of debt
    assert bucket.take(tat, [1], now + 0.5)[0] == 0  # the low lane pays it back first
    assert bucket.take(tat, [1], now + 1.01)[0] == 1

"""The one polling helper the benchmark and the tests wait with."""

import itertools

import pytest

from engines.polling import WaitTimeout, wait_until


def test_returns_the_first_truthy_result():
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 2 and "ready", timeout=5, what="the third poll", interval=0) == "ready"


def test_times_out_with_what_it_waited_for_as_an_assertion():
    with pytest.raises(AssertionError, match="waiting for the impossible") as raised:
        wait_until(lambda: False, timeout=0.05, what="the impossible", interval=0.01)
    assert isinstance(raised.value, WaitTimeout | TimeoutError)

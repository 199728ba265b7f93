from bench.stats import percentile, percentiles, rate


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    assert percentiles([3.0, 1.0, 2.0])["p50"] == 2.0


def test_rate_of_an_empty_interval_is_zero():
    assert rate(10, 0) == 0.0
    assert rate(10, 2) == 5.0

"""`manage.py bench --size smoke` runs every phase on the real engines and processes and writes every
figure; the figures themselves are not checked (a shared machine makes any timing assertion flaky)."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest
from django.conf import settings

from bench.compare import comparison
from bench.report import rows
from bench.sizes import SIZES

pytestmark = pytest.mark.engines


def test_the_smoke_benchmark_writes_every_figure(tmp_path):
    output = tmp_path / "bench.json"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    result = subprocess.run(
        [sys.executable, "manage.py", "bench", "--size", "smoke", "--reuse-engines", "--json", str(output)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = orjson.loads(output.read_bytes())

    smoke = SIZES["smoke"]
    phases = {"api_single", "api_batch", "end_to_end", "fixed_rate", "slow_provider", "indexing"}
    assert {"facts", "baseline", *phases} <= set(results)
    assert results["facts"]["cores"] and results["facts"]["kafka_version"] and results["facts"]["elasticsearch_version"]
    assert results["api_single"]["statuses"] == {"202": smoke.api_requests}
    assert results["api_batch"]["statuses"] == {"202": smoke.end_to_end_messages // smoke.batch_size}
    assert results["end_to_end"]["messages"] == smoke.end_to_end_messages
    assert set(results["end_to_end"]["delivered_per_second_by_worker"]) == {"email", "sms", "whatsapp"}
    assert set(results["end_to_end"]["accept_to_sent_ms"]) == {"p50", "p95", "p99"}
    assert results["fixed_rate"]["statuses"] == {"202": int(smoke.fixed_rate * smoke.fixed_rate_seconds)}
    assert results["slow_provider"]["messages"] == smoke.slow_provider_messages
    assert results["indexing"]["events"] > 0
    scheduled = results["scheduled"]  # every scheduled message published, none before its sendAt
    assert scheduled["published"] == scheduled["messages"] == int(1000 * smoke.load_seconds)
    assert scheduled["published_early"] == 0
    table = rows(results)  # every row the table prints has a value, and a ratio where it has a baseline
    assert all(row.value >= 0 and (row.ratio is not None or not row.baseline) for row in table)
    assert "log indexing into Elasticsearch" in result.stdout
    # Where the CPU went, per phase: the API and the workers did the work, and nothing is negative.
    end_to_end_cpu = results["end_to_end"]["cpu"]["by_process"]
    assert {"api", "email", "sms", "whatsapp", "indexer"} <= set(end_to_end_cpu)
    assert end_to_end_cpu["api"] > 0 and end_to_end_cpu["email"] > 0
    assert all(seconds >= 0 for seconds in end_to_end_cpu.values())
    assert "CPU seconds by process" in result.stdout
    # The README's before/after table: one line per figure.
    table_lines = comparison(results, results).splitlines()
    assert len(table_lines) == 2 + len(table)
    assert table_lines[2].startswith("| baseline: produce (acks=all) |")

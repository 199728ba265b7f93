"""The engine manager: readiness, restarts on kept storage, root handling, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engines import kafka, manager
from engines.errors import EngineError
from engines.layout import ES_USER, load_layout, running_as_root
from engines.toolchain import java_home, maven_binary


def test_status_reports_both_engines_ready():
    rows = {row.name: row for row in manager.status(load_layout())}
    assert rows["kafka"].ready and rows["kafka"].address == "127.0.0.1:9092"
    assert rows["elasticsearch"].ready and rows["elasticsearch"].address == "http://127.0.0.1:9200"


@pytest.mark.skipif(not running_as_root(), reason="only root hands Elasticsearch to another user")
def test_elasticsearch_started_as_root_runs_as_the_unprivileged_user():
    pid_file = load_layout().es_runtime_dir / "elasticsearch.pid"
    if not pid_file.exists():
        pytest.skip("Elasticsearch was not started by this checkout")
    status = Path(f"/proc/{pid_file.read_text().strip()}/status").read_text()
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    import pwd

    assert uid == pwd.getpwnam(ES_USER).pw_uid != 0


def test_kafka_restarts_on_its_formatted_storage(tmp_path):
    layout = load_layout().with_own_kafka(tmp_path / "engines", heap="256m")
    try:
        kafka.start(layout)
        cluster_id = (layout.kafka_dir / "cluster.id").read_text()
        meta = (layout.kafka_dir / "data" / "meta.properties").read_text()
        assert kafka.stop(layout)
        assert not kafka.is_ready(layout, timeout=1)

        kafka.start(layout)  # second start: no re-format, no stale lock
        assert kafka.is_ready(layout)
        assert (layout.kafka_dir / "cluster.id").read_text() == cluster_id
        assert (layout.kafka_dir / "data" / "meta.properties").read_text() == meta
    finally:
        kafka.stop(layout)


def test_missing_java_says_what_to_install(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EngineError, match="Install a JDK"):
        java_home()


def test_missing_maven_says_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EngineError, match="apt-get install maven"):
        maven_binary()


def test_java_home_points_at_a_real_jdk():
    assert os.access(java_home() / "bin" / "java", os.X_OK)


def test_a_long_start_reports_progress_while_it_waits(capsys):
    import time

    from engines.manager import _progress

    with _progress("waiting for elasticsearch to be ready", time.monotonic(), every=0.05):
        time.sleep(0.2)
    assert "... waiting for elasticsearch to be ready" in capsys.readouterr().out


def test_maven_download_lines_become_progress():
    from engines.fetch import _DOWNLOADED

    line = "Downloaded from central: https://repo/x/elasticsearch-8.19.21.zip (102 MB at 12 MB/s)"
    match = _DOWNLOADED.search(line)
    assert match and match.groups() == ("elasticsearch-8.19.21.zip", "102 MB at 12 MB/s")

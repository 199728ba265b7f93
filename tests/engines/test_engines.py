"""The engine manager: readiness, restarts on kept storage, root handling, clear errors."""

from __future__ import annotations

import itertools
import os
import signal
import socket
from pathlib import Path

import pytest

from engines import kafka, manager, process
from engines.__main__ import main as engines_main
from engines.errors import EngineError
from engines.layout import ES_USER, KafkaNode, Layout, load_layout, running_as_root
from engines.polling import wait_until
from engines.session import command_environment
from engines.toolchain import java_home, maven_binary
from tests.engines.cluster import CLUSTER_ON_DEMAND


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
    layout = manager.start_private(kafka, lambda: load_layout().with_own_kafka(tmp_path / "engines", heap="256m"))
    try:
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


class _LowestFreePortSocket:
    """A socket whose bind(0) answers the lowest port no open socket holds: what a kernel may do,
    and what made a broker and its controller once share one port."""

    bound: set[int] = set()

    def __init__(self) -> None:
        self.port: int | None = None

    def bind(self, address: tuple[str, int]) -> None:
        self.port = next(port for port in itertools.count(40000) if port not in self.bound)
        self.bound.add(self.port)

    def getsockname(self) -> tuple[str, int]:
        assert self.port is not None
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        self.bound.discard(self.port or 0)

    def __enter__(self) -> _LowestFreePortSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_a_private_layout_gets_different_ports_even_from_a_kernel_that_reuses_them(monkeypatch, tmp_path):
    monkeypatch.setattr(process.socket, "socket", _LowestFreePortSocket)
    layout = load_layout().with_own_kafka(tmp_path / "engines").with_own_elasticsearch(tmp_path / "es")
    ports = [layout.kafka_port, layout.kafka_controller_port, layout.es_port, layout.es_transport_port]
    assert len(set(ports)) == 4, ports


def test_an_elasticsearch_cluster_gives_every_node_url_to_the_commands_it_runs(monkeypatch, capsys, tmp_path):
    """`elasticsearch-url` prints what ELASTICSEARCH_URL should say, and `run` exports it unless it is set."""
    monkeypatch.setenv("ENGINES_ES_NODES", "2")
    monkeypatch.setenv("ENGINES_ES_PORT", "19200")
    layout = load_layout()
    assert layout.es_urls == "http://127.0.0.1:19200,http://127.0.0.1:19201"
    assert engines_main(["elasticsearch-url"]) == 0
    assert capsys.readouterr().out.strip() == layout.es_urls

    assert command_environment(layout, {})["ELASTICSEARCH_URL"] == layout.es_urls
    own = {"ELASTICSEARCH_URL": "http://es1:9200"}
    assert command_environment(layout, own)["ELASTICSEARCH_URL"] == "http://es1:9200"
    single = load_layout().with_own_elasticsearch(tmp_path / "es")
    assert "ELASTICSEARCH_URL" not in command_environment(single, {})
    assert single.es_urls == single.es_url


def test_free_ports_are_different_and_free():
    for _ in range(200):
        ports = process.free_ports(5)
        assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nothing kept it


def test_a_private_kafka_whose_port_was_taken_starts_again_on_other_ports(tmp_path):
    base = load_layout()
    first = base.with_own_kafka(tmp_path / "taken", heap="256m")
    later: list[Layout] = []

    def choose() -> Layout:
        if not later:
            later.append(first)
            return first
        later.append(base.with_own_kafka(tmp_path / f"engines-{len(later)}", heap="256m"))
        return later[-1]

    with socket.socket() as squatter:  # another process took the port between choosing and binding
        squatter.bind(("127.0.0.1", first.kafka_port))
        squatter.listen()
        try:
            layout = manager.start_private(kafka, choose)
            assert layout is not first and kafka.is_ready(layout)
            assert "Address already in use" in kafka.log_file(first).read_text()
        finally:
            for started in later:
                kafka.stop(started)


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


def _cluster_id_of(node: KafkaNode) -> str:
    meta = (node.directory / "data" / "meta.properties").read_text()
    return next(line.split("=", 1)[1] for line in meta.splitlines() if line.startswith("cluster.id="))


# Three brokers start in 30-40 s: on demand with the cluster tests that use them (CI stays short).
@CLUSTER_ON_DEMAND[0]
@CLUSTER_ON_DEMAND[1]
def test_a_three_broker_cluster_starts_lists_its_brokers_and_brings_back_a_killed_one_alone(tmp_path):
    layout = manager.start_private(kafka, lambda: load_layout().with_own_kafka(tmp_path / "engines", "256m", brokers=3))
    try:
        rows = [row for row in manager.status(layout) if row.name.startswith("kafka")]
        assert [row.name for row in rows] == ["kafka-1", "kafka-2", "kafka-3"]
        assert [row.address for row in rows] == [f"127.0.0.1:{layout.kafka_port + 10 * i}" for i in range(3)]
        assert all(row.ready and row.pid for row in rows), rows
        assert layout.kafka_bootstrap == ",".join(row.address for row in rows)
        nodes = layout.kafka_nodes
        assert len({_cluster_id_of(node) for node in nodes}) == 1

        victim = nodes[1]
        os.kill(kafka.node_pid(victim) or 0, signal.SIGKILL)
        wait_until(lambda: not kafka.statuses(layout)[1].ready, timeout=30, what="the killed broker to be down")
        survivors = {node.node_id: kafka.node_pid(node) for node in nodes if node is not victim}

        kafka.start(layout)  # starts the missing node only
        assert kafka.is_ready(layout)
        assert {node.node_id: kafka.node_pid(node) for node in nodes if node is not victim} == survivors
        assert kafka.node_pid(victim) not in (None, *survivors.values())
    finally:
        kafka.stop(layout)
    assert not any(kafka.node_pid(node) for node in layout.kafka_nodes)

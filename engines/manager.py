"""Start, stop and report both engines; reuse engines that are already answering."""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from engines import elasticsearch, kafka
from engines.errors import PortInUse
from engines.fetch import fetch_all
from engines.layout import Layout
from engines.process import port_open

ENGINES: tuple[ModuleType, ...] = (kafka, elasticsearch)


@dataclass(frozen=True)
class EngineStatus:
    """One engine process: Elasticsearch, or one broker of the Kafka (named "kafka" when it is the only
    one, "kafka-<node id>" in a cluster)."""

    name: str
    ready: bool
    managed_here: bool
    address: str
    log: str
    pid: int | None = None  # when this checkout started it and it is alive


def _say(text: str) -> None:
    print(f"[engines] {text}", flush=True)


@contextmanager
def _lock(layout: Layout) -> Iterator[None]:
    # Two test sessions starting at once must not both format or launch an engine.
    layout.var_dir.mkdir(parents=True, exist_ok=True)
    with (layout.var_dir / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def _progress(what: str, began: float, every: float = 5.0) -> Iterator[None]:
    """Say every few seconds that a long step is still going, so a first start never looks hung."""
    done = threading.Event()

    def report() -> None:
        while not done.wait(every):
            _say(f"  ... {what} ({time.monotonic() - began:.0f}s)")

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        yield
    finally:
        done.set()
        reporter.join()


def _address(engine: ModuleType, layout: Layout) -> str:
    return layout.kafka_bootstrap if engine is kafka else layout.es_url


def ensure_running(layout: Layout) -> list[str]:
    """Make both engines ready; return the names of those this call started."""
    started: list[str] = []
    with _lock(layout):
        fetch_all(layout)
        for engine in ENGINES:
            if engine.is_ready(layout):
                _say(f"{engine.NAME} already answering on {_address(engine, layout)}")
                continue
            _say(f"starting {engine.NAME} on {_address(engine, layout)} (log: {engine.log_file(layout)}) ...")
            began = time.monotonic()
            with _progress(f"waiting for {engine.NAME} to be ready", began):
                try:
                    engine.start(layout)
                except PortInUse as error:
                    # The configured ports are fixed: worth one more try when the holder was a
                    # previous instance still shutting down; the second failure names the port.
                    _say(f"{engine.NAME}: {str(error).splitlines()[0]}; trying once more")
                    time.sleep(2.0)
                    engine.start(layout)
            _say(f"{engine.NAME} ready in {time.monotonic() - began:.1f}s")
            started.append(engine.NAME)
    return started


def start_private(engine: ModuleType, choose: Callable[[], Layout]) -> Layout:
    """Start a private engine on the layout `choose()` answers (fresh free ports on every call) and
    return that layout. Ports are chosen before the engine binds them and another process may take
    one in between: then the engine is started once more, on newly chosen ports."""
    layout = choose()
    try:
        engine.start(layout)
    except PortInUse as error:
        _say(f"{engine.NAME}: {str(error).splitlines()[0]}; starting again on other ports")
        layout = choose()
        engine.start(layout)
    return layout


def stop(layout: Layout, names: list[str] | None = None) -> None:
    with _lock(layout):
        for engine in reversed(ENGINES):
            if names is not None and engine.NAME not in names:
                continue
            if engine.stop(layout):
                _say(f"{engine.NAME} stopped")


def _kafka_status(layout: Layout) -> list[EngineStatus]:
    single = layout.kafka_brokers == 1
    return [
        EngineStatus(
            name=kafka.NAME if single else f"{kafka.NAME}-{row.node.node_id}",
            ready=row.ready,
            managed_here=row.pid is not None,
            address=row.node.address,
            log=str(row.log),
            pid=row.pid,
        )
        for row in kafka.statuses(layout)
    ]


def status(layout: Layout) -> list[EngineStatus]:
    """One row per Kafka broker, then one per Elasticsearch node."""
    return [
        *_kafka_status(layout),
        *_elasticsearch_status(layout),
    ]


def _elasticsearch_status(layout: Layout) -> list[EngineStatus]:
    ready = elasticsearch.is_ready(layout)
    single = layout.es_nodes == 1
    rows = []
    for node in layout.es_node_layouts:
        pid = elasticsearch.node_pid(node)
        rows.append(
            EngineStatus(
                name=elasticsearch.NAME if single else f"{elasticsearch.NAME}-{node.es_node_index + 1}",
                ready=ready if single else ready and port_open(node.es_port),
                managed_here=pid is not None,
                address=node.es_url,
                log=str(elasticsearch.log_file(node)),
                pid=pid,
            )
        )
    return rows

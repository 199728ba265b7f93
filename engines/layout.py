"""Where engines live on disk and which ports they use; every value can be set from the environment."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from engines.process import free_ports

PROJECT_DIR = Path(__file__).resolve().parent.parent
POM = Path(__file__).resolve().parent / "pom.xml"
ES_USER = "comms-es"


def running_as_root() -> bool:
    return os.geteuid() == 0


def _pom_property(name: str) -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find(f"m:properties/m:{name}", ns)
    if node is None or not node.text:
        raise RuntimeError(f"{POM} has no <{name}> property")
    return node.text.strip()


@dataclass(frozen=True)
class Layout:
    """Paths and ports of one project checkout's engines."""

    cache_dir: Path
    var_dir: Path
    es_runtime_dir: Path
    kafka_port: int
    kafka_controller_port: int
    es_port: int
    es_transport_port: int
    kafka_heap: str
    es_heap: str
    # Elasticsearch's http.max_content_length (None: its default, 100mb); tests make it small to
    # see a bulk request refused as too large.
    es_max_content_length: str | None = None

    @cached_property
    def kafka_version(self) -> str:
        return _pom_property("kafka.version")

    @cached_property
    def es_version(self) -> str:
        return _pom_property("elasticsearch.version")

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / f"kafka-{self.kafka_version}" / "libs"

    @property
    def es_home(self) -> Path:
        return self.cache_dir / f"elasticsearch-{self.es_version}"

    @property
    def kafka_dir(self) -> Path:
        return self.var_dir / "kafka"

    def with_own_kafka(self, var_dir: Path, heap: str | None = None) -> Layout:
        """This layout with a Kafka of its own (storage under `var_dir`, free ports): the benchmark's and
        the tests' private brokers, which they may stop without disturbing anyone."""
        kafka_port, controller_port = free_ports(2, avoid=(self.es_port, self.es_transport_port))
        return dataclasses.replace(
            self,
            var_dir=var_dir,
            kafka_port=kafka_port,
            kafka_controller_port=controller_port,
            kafka_heap=heap or self.kafka_heap,
        )

    def with_own_elasticsearch(
        self, runtime_dir: Path, heap: str | None = None, *, max_content_length: str | None = None
    ) -> Layout:
        """This layout with an Elasticsearch node of its own (under `runtime_dir`, free ports)."""
        es_port, transport_port = free_ports(2, avoid=(self.kafka_port, self.kafka_controller_port))
        return dataclasses.replace(
            self,
            es_runtime_dir=runtime_dir,
            es_port=es_port,
            es_transport_port=transport_port,
            es_heap=heap or self.es_heap,
            es_max_content_length=max_content_length,
        )

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.es_port}"


def _default_cache_dir() -> Path:
    # Elasticsearch runs as an unprivileged user when we are root, and that user cannot
    # read anything under /root; so root's cache lives where every user can read it.
    if running_as_root():
        return Path("/var/cache/comms-aggregator")
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "comms-aggregator"


def _default_es_runtime_dir(var_dir: Path) -> Path:
    if running_as_root():
        # One directory per checkout, owned by the Elasticsearch user.
        digest = hashlib.sha1(str(PROJECT_DIR).encode()).hexdigest()[:12]
        return Path("/var/lib/comms-aggregator") / digest / "elasticsearch"
    return var_dir / "elasticsearch"


def _env(name: str, default: str | Path) -> str:
    """An environment variable, where set-but-empty means unset (as in .env.example)."""
    return os.environ.get(name) or str(default)


def load_layout() -> Layout:
    var_dir = Path(_env("ENGINES_VAR_DIR", PROJECT_DIR / "var" / "engines")).resolve()
    return Layout(
        cache_dir=Path(_env("ENGINES_CACHE_DIR", _default_cache_dir())).resolve(),
        var_dir=var_dir,
        es_runtime_dir=Path(_env("ENGINES_ES_DIR", _default_es_runtime_dir(var_dir))).resolve(),
        kafka_port=int(_env("ENGINES_KAFKA_PORT", "9092")),
        kafka_controller_port=int(_env("ENGINES_KAFKA_CONTROLLER_PORT", "9093")),
        es_port=int(_env("ENGINES_ES_PORT", "9200")),
        es_transport_port=int(_env("ENGINES_ES_TRANSPORT_PORT", "9300")),
        kafka_heap=_env("ENGINES_KAFKA_HEAP", "512m"),
        es_heap=_env("ENGINES_ES_HEAP", "512m"),
    )

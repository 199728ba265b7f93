"""Where engines live on disk and which ports they use; every value can be set from the environment."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from engines.process import free_port_ladder

PROJECT_DIR = Path(__file__).resolve().parent.parent
POM = Path(__file__).resolve().parent / "pom.xml"
ES_USER = "comms-es"
# Node i of a Kafka cluster listens this many ports above node 0 (9092, 9102, 9112 by default).
KAFKA_PORT_STEP = 10
# Controllers of a cluster: all nodes up to this many, the others are brokers only (a quorum of 3
# survives one lost controller; more only slow every metadata write).
KAFKA_MAX_VOTERS = 3


@dataclass(frozen=True)
class KafkaNode:
    """One broker of the project's Kafka: its KRaft node id, ports and directory (config, data, pid, log)."""

    node_id: int
    port: int
    controller_port: int
    directory: Path
    voter: bool  # a member of the controller quorum as well as a broker

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


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
    kafka_brokers: int = 1
    # Elasticsearch nodes of one cluster: node i on es_port + i and es_transport_port + i. Set on a
    # node's own layout (`es_node_layouts`): which one it is (0: the first, the only master-eligible).
    es_nodes: int = 1
    es_node_index: int = 0
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
        """The Kafka's directory: one node's own, or a cluster's (its cluster id, a directory per node).
        A cluster has a directory apart so that a single node's storage is never joined to a quorum it
        was not formatted for."""
        return self.var_dir / ("kafka" if self.kafka_brokers == 1 else "kafka-cluster")

    @property
    def kafka_nodes(self) -> tuple[KafkaNode, ...]:
        return tuple(
            KafkaNode(
                node_id=index + 1,
                port=self.kafka_port + KAFKA_PORT_STEP * index,
                controller_port=self.kafka_controller_port + KAFKA_PORT_STEP * index,
                directory=self.kafka_dir if self.kafka_brokers == 1 else self.kafka_dir / f"node-{index + 1}",
                voter=index < KAFKA_MAX_VOTERS,
            )
            for index in range(self.kafka_brokers)
        )

    def with_own_kafka(self, var_dir: Path, heap: str | None = None, *, brokers: int | None = None) -> Layout:
        """This layout with a Kafka of its own (storage under `var_dir`, free ports for each of its
        `brokers` nodes, by default as many as this layout's): the benchmark's and the tests' private
        brokers, which they may stop without disturbing anyone."""
        count = brokers or self.kafka_brokers
        kafka_port, controller_port = free_port_ladder(
            count, KAFKA_PORT_STEP, avoid=(self.es_port, self.es_transport_port)
        )
        return dataclasses.replace(
            self,
            var_dir=var_dir,
            kafka_port=kafka_port,
            kafka_controller_port=controller_port,
            kafka_heap=heap or self.kafka_heap,
            kafka_brokers=count,
        )

    def with_own_elasticsearch(
        self,
        runtime_dir: Path,
        heap: str | None = None,
        *,
        max_content_length: str | None = None,
        nodes: int = 1,
    ) -> Layout:
        """This layout with an Elasticsearch of its own (`nodes` nodes under `runtime_dir`, free ports)."""
        kafka_ports = [port for node in self.kafka_nodes for port in (node.port, node.controller_port)]
        es_port, transport_port = free_port_ladder(nodes, 1, avoid=kafka_ports)
        return dataclasses.replace(
            self,
            es_runtime_dir=runtime_dir,
            es_port=es_port,
            es_transport_port=transport_port,
            es_heap=heap or self.es_heap,
            es_max_content_length=max_content_length,
            es_nodes=nodes,
        )

    @property
    def es_node_layouts(self) -> tuple[Layout, ...]:
        """One layout per Elasticsearch node, each with the node's ports and directory (a cluster's
        nodes each under `es_runtime_dir/node-<n>`)."""
        if self.es_nodes == 1:
            return (self,)
        return tuple(
            dataclasses.replace(
                self,
                es_runtime_dir=self.es_runtime_dir / f"node-{index + 1}",
                es_port=self.es_port + index,
                es_transport_port=self.es_transport_port + index,
                es_node_index=index,
            )
            for index in range(self.es_nodes)
        )

    @property
    def kafka_bootstrap(self) -> str:
        """Every broker's address: a client that knows only one could not start while that one is down."""
        return ",".join(node.address for node in self.kafka_nodes)

    @property
    def es_url(self) -> str:
        """This node's URL (a cluster's layout: the first node's)."""
        return f"http://127.0.0.1:{self.es_port}"

    @property
    def es_urls(self) -> str:
        """Every node's URL, what ELASTICSEARCH_URL should say: a client that knows only one could not
        answer while that one is down."""
        return ",".join(node.es_url for node in self.es_node_layouts)


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
    brokers = int(_env("ENGINES_KAFKA_BROKERS", "1"))
    if brokers < 1:
        raise ValueError(f"ENGINES_KAFKA_BROKERS must be 1 or more, not {brokers}")
    return Layout(
        cache_dir=Path(_env("ENGINES_CACHE_DIR", _default_cache_dir())).resolve(),
        var_dir=var_dir,
        es_runtime_dir=Path(_env("ENGINES_ES_DIR", _default_es_runtime_dir(var_dir))).resolve(),
        kafka_port=int(_env("ENGINES_KAFKA_PORT", "9092")),
        kafka_controller_port=int(_env("ENGINES_KAFKA_CONTROLLER_PORT", "9093")),
        es_port=int(_env("ENGINES_ES_PORT", "9200")),
        es_transport_port=int(_env("ENGINES_ES_TRANSPORT_PORT", "9300")),
        # Three brokers must fit beside Elasticsearch on a small machine.
        kafka_heap=_env("ENGINES_KAFKA_HEAP", "512m" if brokers == 1 else "384m"),
        es_heap=_env("ENGINES_ES_HEAP", "512m"),
        kafka_brokers=brokers,
        es_nodes=int(_env("ENGINES_ES_NODES", "1")),
    )

"""Apache Kafka in KRaft mode: one node, broker and controller in one JVM, or a cluster of
`ENGINES_KAFKA_BROKERS` such nodes sharing one cluster id (up to three of them controllers too).
Each node's storage is formatted once; `start` starts only the nodes that are not running."""

from __future__ import annotations

import subprocess
import time
import uuid
from base64 import urlsafe_b64encode
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from engines.errors import BIND_ERROR, EngineError, PortInUse
from engines.layout import KafkaNode, Layout
from engines.process import is_alive, log_since, log_size, port_open, read_pid, tail, terminate
from engines.toolchain import java_binary

NAME = "kafka"


@dataclass(frozen=True)
class NodeFiles:
    config: Path
    log4j: Path
    data: Path
    log: Path
    pid: Path

    @classmethod
    def of(cls, node: KafkaNode) -> NodeFiles:
        base = node.directory
        return cls(
            base / "server.properties",
            base / "log4j2.properties",
            base / "data",
            base / "kafka.log",
            base / "kafka.pid",
        )


@dataclass(frozen=True)
class NodeStatus:
    node: KafkaNode
    ready: bool  # its port answers and the cluster's metadata lists it
    pid: int | None  # when this layout started it and it is alive
    log: Path


def _server_properties(layout: Layout, node: KafkaNode, data_dir: Path) -> str:
    nodes = layout.kafka_nodes
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes if n.voter)
    replicas = min(len(nodes), 3)
    in_sync = min(len(nodes), 2)
    roles = "broker,controller" if node.voter else "broker"
    listeners = f"PLAINTEXT://127.0.0.1:{node.port}"
    if node.voter:
        listeners += f",CONTROLLER://127.0.0.1:{node.controller_port}"
    return f"""# Written by `python -m engines` on every start; edit engines/kafka.py instead.
process.roles={roles}
node.id={node.node_id}
controller.quorum.voters={voters}
listeners={listeners}
advertised.listeners=PLAINTEXT://127.0.0.1:{node.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}
num.partitions=3
# Kafka's own topics survive a lost broker once there are three (min.insync 2 as for ours).
offsets.topic.replication.factor={replicas}
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={in_sync}
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={in_sync}
# No reason to wait for more members before a group's first rebalance (tests start workers at once).
group.initial.rebalance.delay.ms=0
# Topics are created explicitly (`manage.py create_topics`), so a typo fails loudly.
auto.create.topics.enable=false
"""


LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def _cluster_id(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Kafka cluster ids are 16 random bytes, URL-safe base64 without padding. One starting with
        # "-" would be read as an option by the storage tool, so (like Kafka's own) draw again.
        cluster_id = "-"
        while cluster_id.startswith("-"):
            cluster_id = urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        path.write_text(cluster_id)
    return path.read_text().strip()


def _classpath(layout: Layout) -> str:
    return f"{layout.kafka_libs}/*"


def _listed_brokers(layout: Layout, timeout: float) -> set[int]:
    """The node ids the cluster's metadata lists as brokers (none when no broker answers)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": layout.kafka_bootstrap, "log_level": 0})
    try:
        return set(admin.list_topics(timeout=timeout).brokers)
    except Exception:
        return set()


def is_ready(layout: Layout, timeout: float = 2.0) -> bool:
    """Every node answers on its port and is a registered broker."""
    nodes = layout.kafka_nodes
    if not all(port_open(node.port) for node in nodes):
        return False
    return {node.node_id for node in nodes} <= _listed_brokers(layout, timeout)


def node_pid(node: KafkaNode) -> int | None:
    """The node's process id, if this layout started it and it is alive."""
    found = read_pid(NodeFiles.of(node).pid)
    return found if is_alive(found) else None


def is_ours_running(layout: Layout) -> bool:
    return any(node_pid(node) is not None for node in layout.kafka_nodes)


def statuses(layout: Layout, timeout: float = 2.0) -> list[NodeStatus]:
    listed = _listed_brokers(layout, timeout)
    return [
        NodeStatus(node, port_open(node.port) and node.node_id in listed, node_pid(node), NodeFiles.of(node).log)
        for node in layout.kafka_nodes
    ]


def _format(layout: Layout, node: KafkaNode, files: NodeFiles, java: str) -> None:
    if (files.data / "meta.properties").exists():
        return
    format_cmd = [java, "-cp", _classpath(layout), "kafka.tools.StorageTool", "format"]
    # `--cluster-id=<id>` as one argument: a random id may start with "-" (URL-safe base64), which
    # argparse would take for an option, failing about one first start in 32.
    cluster_id = _cluster_id(layout.kafka_dir / "cluster.id")
    format_cmd += [f"--cluster-id={cluster_id}", "-c", str(files.config), "-g"]
    result = subprocess.run(format_cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise EngineError(f"Kafka node {node.node_id}: storage format failed:\n{result.stdout}{result.stderr}")


def _prepare(layout: Layout, node: KafkaNode, java: str) -> None:
    """Write the node's configuration and format its storage the first time."""
    files = NodeFiles.of(node)
    node.directory.mkdir(parents=True, exist_ok=True)
    files.config.write_text(_server_properties(layout, node, files.data))
    files.log4j.write_text(LOG4J2)
    _format(layout, node, files, java)


def _launch(layout: Layout, node: KafkaNode, java: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start one node's JVM; answer the process and where its log lines of this start begin."""
    files = NodeFiles.of(node)
    command = [
        java,
        f"-Xms{layout.kafka_heap}",
        f"-Xmx{layout.kafka_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={files.log4j}",
        "-cp",
        _classpath(layout),
        "kafka.Kafka",
        str(files.config),
    ]
    log_start = log_size(files.log)
    with files.log.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=node.directory
        )
    files.pid.write_text(str(process.pid))
    return process, log_start


def _exit_error(node: KafkaNode, process: subprocess.Popen[bytes], log_start: int) -> EngineError:
    log = NodeFiles.of(node).log
    if BIND_ERROR in log_since(log, log_start):
        return PortInUse(
            f"Kafka node {node.node_id} could not bind {node.port} or {node.controller_port}: "
            f"{BIND_ERROR}; log: {log}\n" + tail(log)
        )
    return EngineError(
        f"Kafka node {node.node_id} exited with code {process.returncode} while starting; log: {log}\n" + tail(log)
    )


def start(layout: Layout, timeout: float | None = None) -> None:
    """Start every node that is not running (all of them at first: a quorum needs a majority of its
    controllers before any one of them is ready), then wait until every node is a registered broker:
    90 s for one node, longer for a cluster, whose nodes share the machine's cores while they start."""
    timeout = timeout or 90.0 * min(layout.kafka_brokers, 3)
    java = java_binary()
    missing = [node for node in layout.kafka_nodes if node_pid(node) is None]
    _cluster_id(layout.kafka_dir / "cluster.id")  # drawn once, before the nodes format in parallel
    with ThreadPoolExecutor(max_workers=max(1, len(missing))) as pool:
        list(pool.map(lambda node: _prepare(layout, node, java), missing))
    launched = {node: _launch(layout, node, java) for node in missing}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node, (process, log_start) in launched.items():
            if process.poll() is not None:
                for other in launched:
                    terminate(NodeFiles.of(other).pid)
                raise _exit_error(node, process, log_start)
        if is_ready(layout):
            return
        time.sleep(0.5)
    for node in launched:
        terminate(NodeFiles.of(node).pid)
    logs = "\n".join(f"node {node.node_id}: {NodeFiles.of(node).log}" for node in layout.kafka_nodes)
    raise EngineError(
        f"Kafka did not list every broker of {layout.kafka_bootstrap} within {timeout:.0f}s; logs:\n{logs}\n"
        + tail(NodeFiles.of(next(iter(launched), layout.kafka_nodes[0])).log)
    )


def pid(layout: Layout) -> int | None:
    """The first node's process id, if this layout started it."""
    return read_pid(NodeFiles.of(layout.kafka_nodes[0]).pid)


def stop_node(node: KafkaNode) -> bool:
    """SIGTERM one node (SIGKILL after a grace period); True if it was running."""
    return terminate(NodeFiles.of(node).pid)


def stop(layout: Layout) -> bool:
    """Stop every node this layout started, all at once: one at a time, the last ones would wait for a
    controller majority that has already gone. True if any was running."""
    with ThreadPoolExecutor(max_workers=len(layout.kafka_nodes)) as pool:
        return any(pool.map(stop_node, layout.kafka_nodes))


def log_file(layout: Layout) -> Path:
    return NodeFiles.of(layout.kafka_nodes[0]).log

"""Apache Kafka in KRaft mode: one JVM is broker and controller; storage is formatted once."""

from __future__ import annotations

import subprocess
import time
import uuid
from base64 import urlsafe_b64encode
from pathlib import Path

from engines.errors import BIND_ERROR, EngineError, PortInUse
from engines.layout import Layout
from engines.process import is_alive, log_since, log_size, port_open, read_pid, tail, terminate
from engines.toolchain import java_binary

NAME = "kafka"


def _paths(layout: Layout) -> dict[str, Path]:
    base = layout.kafka_dir
    return {
        "config": base / "server.properties",
        "log4j": base / "log4j2.properties",
        "data": base / "data",
        "log": base / "kafka.log",
        "pid": base / "kafka.pid",
        "cluster_id": base / "cluster.id",
    }


def _server_properties(layout: Layout, data_dir: Path) -> str:
    return f"""# Written by `python -m engines` on every start; edit engines/kafka.py instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{layout.kafka_controller_port}
listeners=PLAINTEXT://127.0.0.1:{layout.kafka_port},CONTROLLER://127.0.0.1:{layout.kafka_controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{layout.kafka_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Single node: no reason to wait for more members before the first rebalance.
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


def is_ready(layout: Layout, timeout: float = 2.0) -> bool:
    if not port_open(layout.kafka_port):
        return False
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": layout.kafka_bootstrap, "log_level": 0})
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except Exception:
        return False


def is_ours_running(layout: Layout) -> bool:
    return is_alive(read_pid(_paths(layout)["pid"]))


def start(layout: Layout, timeout: float = 90.0) -> None:
    paths = _paths(layout)
    layout.kafka_dir.mkdir(parents=True, exist_ok=True)
    paths["config"].write_text(_server_properties(layout, paths["data"]))
    paths["log4j"].write_text(LOG4J2)
    java = java_binary()
    if not (paths["data"] / "meta.properties").exists():
        format_cmd = [java, "-cp", _classpath(layout), "kafka.tools.StorageTool", "format"]
        # `--cluster-id=<id>` as one argument: a random id may start with "-" (URL-safe base64), which
        # argparse would take for an option, failing about one first start in 32.
        format_cmd += [f"--cluster-id={_cluster_id(paths['cluster_id'])}", "-c", str(paths["config"]), "-g"]
        result = subprocess.run(format_cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise EngineError(f"Kafka storage format failed:\n{result.stdout}{result.stderr}")
    command = [
        java,
        f"-Xms{layout.kafka_heap}",
        f"-Xmx{layout.kafka_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={paths['log4j']}",
        "-cp",
        _classpath(layout),
        "kafka.Kafka",
        str(paths["config"]),
    ]
    log_start = log_size(paths["log"])
    with paths["log"].open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=layout.kafka_dir
        )
    paths["pid"].write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if BIND_ERROR in log_since(paths["log"], log_start):
                raise PortInUse(
                    f"Kafka could not bind {layout.kafka_port} or {layout.kafka_controller_port}: "
                    f"{BIND_ERROR}; log: {paths['log']}\n" + tail(paths["log"])
                )
            raise EngineError(
                f"Kafka exited with code {process.returncode} while starting; log: {paths['log']}\n"
                + tail(paths["log"])
            )
        if is_ready(layout):
            return
        time.sleep(0.5)
    terminate(paths["pid"])
    raise EngineError(
        f"Kafka did not answer metadata requests on {layout.kafka_bootstrap} within {timeout:.0f}s; "
        f"log: {paths['log']}\n" + tail(paths["log"])
    )


def pid(layout: Layout) -> int | None:
    """The engine's process id, if this layout started it."""
    return read_pid(_paths(layout)["pid"])


def stop(layout: Layout) -> bool:
    return terminate(_paths(layout)["pid"])


def log_file(layout: Layout) -> Path:
    return _paths(layout)["log"]

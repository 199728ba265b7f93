"""Elasticsearch on loopback: one node, or `ENGINES_ES_NODES` nodes of one cluster (the first the only
master-eligible one, so the cluster survives losing any other node, not the first: three
master-eligible nodes would be needed for that). As root it runs as a dedicated unprivileged user.

The functions taking a `Layout` act on the whole cluster; those named `_node` on one node's layout
(`Layout.es_node_layouts`)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from engines.errors import BIND_ERROR, EngineError, PortInUse
from engines.layout import ES_USER, Layout, running_as_root
from engines.process import is_alive, log_since, log_size, read_pid, tail, terminate
from engines.toolchain import java_home

NAME = "elasticsearch"


def _paths(layout: Layout) -> dict[str, Path]:
    base = layout.es_runtime_dir
    return {
        "config": base / "config",
        "data": base / "data",
        "logs": base / "logs",
        "pid": base / "elasticsearch.pid",
        "stdout": base / "logs" / "startup.log",
    }


def _discovery(layout: Layout) -> str:
    if layout.es_nodes == 1:
        return "discovery.type: single-node\n"
    first_transport = layout.es_transport_port - layout.es_node_index
    seeds = ", ".join(f"127.0.0.1:{first_transport + n}" for n in range(layout.es_nodes))
    if layout.es_node_index == 0:  # the master: bootstraps the cluster by itself
        return f"discovery.seed_hosts: [{seeds}]\ncluster.initial_master_nodes: [node-1]\n"
    return f"discovery.seed_hosts: [{seeds}]\nnode.roles: [data, ingest]\n"


def _settings(layout: Layout, paths: dict[str, Path]) -> str:
    return f"""# Written by `python -m engines` on every start; edit engines/elasticsearch.py instead.
cluster.name: comms-aggregator
node.name: node-{layout.es_node_index + 1}
network.host: 127.0.0.1
http.port: {layout.es_port}
transport.port: {layout.es_transport_port}
{_discovery(layout)}path.data: {paths["data"]}
path.logs: {paths["logs"]}
# Local development engine: no TLS or users (production runs its own cluster, see docker/).
xpack.security.enabled: false
# Shared machines often have little free disk; do not flip indices read-only on a watermark.
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
""" + (f"http.max_content_length: {layout.es_max_content_length}\n" if layout.es_max_content_length else "")


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(ES_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise EngineError(f"could not create user {ES_USER} for Elasticsearch: {result.stderr.strip()}")
    return pwd.getpwnam(ES_USER)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def _prepare(layout: Layout) -> dict[str, Path]:
    paths = _paths(layout)
    for key in ("config", "data", "logs"):
        paths[key].mkdir(parents=True, exist_ok=True)
    shipped = layout.es_home / "config"
    for item in shipped.iterdir():
        target = paths["config"] / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        elif not target.exists():
            shutil.copy2(item, target)
    (paths["config"] / "elasticsearch.yml").write_text(_settings(layout, paths))
    heap = paths["config"] / "jvm.options.d" / "heap.options"
    heap.parent.mkdir(exist_ok=True)
    heap.write_text(f"-Xms{layout.es_heap}\n-Xmx{layout.es_heap}\n")
    if running_as_root():
        user = _ensure_user()
        _chown_tree(layout.es_runtime_dir, user.pw_uid, user.pw_gid)
        # The user must be able to walk down to its runtime directory.
        for parent in layout.es_runtime_dir.parents:
            if parent == Path("/"):
                break
            if parent.stat().st_mode & 0o005 != 0o005:
                parent.chmod(parent.stat().st_mode | 0o005)
    return paths


def is_ready(layout: Layout, timeout: float = 2.0) -> bool:
    """Cluster health yellow or green with every node joined."""
    url = f"{layout.es_url}/_cluster/health?wait_for_status=yellow&wait_for_nodes={layout.es_nodes}"
    try:
        with urllib.request.urlopen(f"{url}&timeout={int(timeout)}s", timeout=timeout + 1) as response:
            health = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return health.get("status") in ("yellow", "green") and health.get("number_of_nodes", 0) >= layout.es_nodes


def node_pid(node: Layout) -> int | None:
    """The node's process id, if this layout started it and it is alive."""
    found = read_pid(_paths(node)["pid"])
    return found if is_alive(found) else None


def is_ours_running(layout: Layout) -> bool:
    return any(node_pid(node) is not None for node in layout.es_node_layouts)


def start(layout: Layout, timeout: float = 120.0) -> None:
    """Start every node that is not running, the first (the master) first, and wait until all joined."""
    for node in layout.es_node_layouts:
        if node_pid(node) is None:
            _start_node(node, timeout)
    deadline = time.monotonic() + timeout
    while not is_ready(layout):
        if time.monotonic() > deadline:
            raise EngineError(
                f"Elasticsearch on {layout.es_url}: not all {layout.es_nodes} nodes joined in {timeout:.0f}s"
            )
        time.sleep(0.5)


def _start_node(layout: Layout, timeout: float) -> None:
    paths = _prepare(layout)
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(java_home()),
        "ES_PATH_CONF": str(paths["config"]),
        "ES_JAVA_OPTS": os.environ.get("ES_JAVA_OPTS", ""),
    }
    env.pop("JAVA_HOME", None)  # ES warns when both are set; ES_JAVA_HOME is the one it uses
    run_as: dict[str, str] = {}
    if running_as_root():
        run_as = {"user": ES_USER, "group": ES_USER}
        env["HOME"] = str(layout.es_runtime_dir)
    command = [str(layout.es_home / "bin" / "elasticsearch"), "-d", "-p", str(paths["pid"])]
    server_log = paths["logs"] / "comms-aggregator.log"
    log_starts = {log: log_size(log) for log in (paths["stdout"], server_log)}
    with paths["stdout"].open("ab") as out:
        # -d: the launcher returns once the node has started (or failed) and leaves it daemonized.
        launcher = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=paths["logs"],
            start_new_session=True,
            **run_as,  # type: ignore[call-overload]
        )
        code = launcher.wait(timeout=timeout)
    if code != 0:
        _raise_if_port_taken(layout, log_starts)
        raise EngineError(
            f"Elasticsearch failed to start (launcher exit {code}); logs: {paths['stdout']} and "
            f"{server_log}\n" + tail(paths["stdout"])
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _node_answers(layout):
            return
        if node_pid(layout) is None:
            _raise_if_port_taken(layout, log_starts)
            break
        time.sleep(0.5)
    terminate(paths["pid"])
    raise EngineError(
        f"Elasticsearch did not reach cluster health yellow on {layout.es_url} within {timeout:.0f}s; "
        f"log: {server_log}\n" + tail(server_log)
    )


def _raise_if_port_taken(layout: Layout, log_starts: dict[Path, int]) -> None:
    for log, start in log_starts.items():
        if BIND_ERROR in log_since(log, start):
            raise PortInUse(
                f"Elasticsearch could not bind {layout.es_port} or {layout.es_transport_port}: {BIND_ERROR}; "
                f"log: {log}\n" + tail(log)
            )


def _node_answers(node: Layout) -> bool:
    """The node is up and in a cluster with a master (a single node: its health is yellow or green)."""
    if node.es_nodes == 1:
        return is_ready(node)
    try:
        with urllib.request.urlopen(f"{node.es_url}/_cluster/health?timeout=2s", timeout=3) as response:
            return json.load(response).get("status") in ("yellow", "green", "red")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def pid(layout: Layout) -> int | None:
    """The first node's process id, if this layout started it."""
    return read_pid(_paths(layout.es_node_layouts[0])["pid"])


def stop_node(node: Layout) -> bool:
    return terminate(_paths(node)["pid"])


def stop(layout: Layout) -> bool:
    """Stop every node this layout started, the others before the master."""
    stopped = [stop_node(node) for node in reversed(layout.es_node_layouts)]
    return any(stopped)


def log_file(layout: Layout) -> Path:
    return _paths(layout.es_node_layouts[0])["logs"] / "comms-aggregator.log"

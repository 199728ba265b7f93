"""Run a command with the engines up, and take down afterwards only the engines this call started.

Ctrl-C at a terminal reaches the whole foreground process group: the command (honcho and its
children) stops by itself, then the engines, which run in sessions of their own, are stopped here.
A SIGINT/SIGTERM sent to this process alone is passed on to the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from types import FrameType

from engines import manager
from engines.layout import Layout


def command_environment(layout: Layout, environ: Mapping[str, str]) -> dict[str, str]:
    """The command's environment: a cluster's brokers all in KAFKA_BOOTSTRAP_SERVERS, and its
    Elasticsearch nodes all in ELASTICSEARCH_URL, unless set (so a client starts, and goes on, while
    any one of them is down)."""
    env = dict(environ)
    if layout.kafka_brokers > 1 and not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        env["KAFKA_BOOTSTRAP_SERVERS"] = layout.kafka_bootstrap
    if layout.es_nodes > 1 and not env.get("ELASTICSEARCH_URL"):
        env["ELASTICSEARCH_URL"] = layout.es_urls
    return env


def run_with_engines(layout: Layout, command: Sequence[str]) -> int:
    started = manager.ensure_running(layout)
    try:
        child = subprocess.Popen(list(command), env=command_environment(layout, os.environ))

        def forward(signum: int, frame: FrameType | None) -> None:
            if child.poll() is None:
                child.send_signal(signum)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        return child.wait()
    finally:
        if started:
            manager.stop(layout, started)

"""`python -m engines fetch|start|stop|status|bootstrap|elasticsearch-url|run -- CMD`: the engines the
project runs on.

`bootstrap` prints every Kafka broker's address (what KAFKA_BOOTSTRAP_SERVERS should say),
`elasticsearch-url` every Elasticsearch node's URL (what ELASTICSEARCH_URL should say); `run` exports
both to the command when there are several and the environment does not set them."""

from __future__ import annotations

import argparse
import sys

from engines import manager
from engines.errors import EngineError
from engines.fetch import fetch_all
from engines.layout import load_layout
from engines.session import run_with_engines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engines", description=__doc__)
    parser.add_argument("action", choices=["fetch", "start", "stop", "status", "bootstrap", "elasticsearch-url", "run"])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="run: the command to run with the engines up")
    args = parser.parse_args(argv)
    layout = load_layout()
    try:
        if args.action == "fetch":
            fetch_all(layout)
        elif args.action == "start":
            manager.ensure_running(layout)
        elif args.action == "run":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            if not command:
                parser.error("run needs a command: python -m engines run -- <command>")
            return run_with_engines(layout, command)
        elif args.action == "bootstrap":
            print(layout.kafka_bootstrap)
        elif args.action == "elasticsearch-url":
            print(layout.es_urls)
        elif args.action == "stop":
            manager.stop(layout)
        else:
            rows = manager.status(layout)
            for row in rows:
                state = "ready" if row.ready else "down"
                owner = f"started here, pid {row.pid}" if row.pid is not None else "not started here"
                print(f"{row.name:<14} {state:<6} {row.address:<24} {owner}; log: {row.log}")
            return 0 if all(row.ready for row in rows) else 3
    except EngineError as error:
        print(f"[engines] error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

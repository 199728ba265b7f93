"""`manage.py bench`: the whole pipeline on the real engines and processes, against its own raw limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.report import PHASES, render
from bench.run import bench_size, run_bench
from bench.sizes import SIZES


class Command(BaseCommand):
    help = "Benchmark API ingest, end-to-end delivery and log indexing; print a table and write JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", choices=sorted(SIZES), default="default")
        parser.add_argument("--messages", type=int, default=None, help="end-to-end and baseline messages")
        parser.add_argument("--json", type=Path, default=Path("var/bench/bench.json"), help="where the JSON goes")
        parser.add_argument(
            "--reuse-engines",
            action="store_true",
            help="use the running Kafka/Elasticsearch (unique topic and index prefixes) instead of own ones",
        )
        parser.add_argument(
            "--peer",
            choices=["celery"],
            default=None,
            help="also run the Celery + Redis peer (bench/peer_celery) in the same run and print the ratios",
        )

        parser.add_argument(
            "--only",
            default=None,
            help="comma-separated phases to run (as named in the JSON); the baseline always runs, and with "
            "--peer the peer's shape (peer_shape) does too",
        )

    def handle(
        self,
        *args: Any,
        size: str,
        messages: int | None,
        json: Path,
        reuse_engines: bool,
        peer: str | None,
        only: str | None,
        **_: Any,
    ) -> None:
        phases = frozenset(name.strip() for name in only.split(",") if name.strip()) if only else None
        if phases and not phases <= set(PHASES):
            raise CommandError(f"--only: unknown phase(s) {sorted(phases - set(PHASES))}; known: {', '.join(PHASES)}")
        results = run_bench(bench_size(size, messages), reuse_engines=reuse_engines, peer=peer, only=phases)
        json.parent.mkdir(parents=True, exist_ok=True)
        json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
        self.stdout.write(render(results))
        self.stdout.write(f"\nJSON: {json}")

"""Resolve the engines' Maven coordinates into the cache (idempotent: a complete install is kept)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from engines.errors import EngineError
from engines.layout import POM, Layout
from engines.toolchain import maven_binary

COMPLETE_MARKER = ".complete"


def _say(text: str) -> None:
    print(f"[engines] {text}", flush=True)


def _size(path: Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{total / 1_048_576:.0f} MB"


# Maven's batch-mode transfer lines: "Downloaded from central: <url> (12 MB at 3.4 MB/s)".
_DOWNLOADED = re.compile(r"Downloaded from \S+: \S*/([^/\s]+) \(([^)]*)\)")


def _maven(layout: Layout, goal_args: list[str]) -> None:
    """Run Maven, echoing one short line per downloaded file (name, size, speed) as progress."""
    command = [maven_binary(), "-B", "-f", str(POM), *goal_args]
    tail: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail = [*tail[-60:], line]
            match = _DOWNLOADED.search(line)
            # Only the big files: Maven's own plugins are hundreds of small jars.
            if match and " MB " in f" {match.group(2)} ":
                _say(f"  downloaded {match.group(1)} ({match.group(2)})")
    if process.returncode != 0:
        raise EngineError(
            "Maven could not fetch the engines (is Maven Central reachable?).\n"
            f"command: {' '.join(command)}\n{''.join(tail)}"
        )


def _unzip_keeping_modes(archive: Path, target: Path) -> None:
    # zipfile drops Unix permissions; Elasticsearch's launch scripts need their exec bits.
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            extracted = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                extracted.chmod(mode)


def fetch_kafka(layout: Layout) -> Path:
    home = layout.kafka_libs.parent
    if (home / COMPLETE_MARKER).exists():
        return home
    _say(f"fetching Apache Kafka {layout.kafka_version} and its runtime classpath with Maven ...")
    shutil.rmtree(home, ignore_errors=True)
    _maven(
        layout,
        [
            "dependency:copy-dependencies",
            f"-DoutputDirectory={layout.kafka_libs}",
            "-DincludeScope=runtime",
            "-DexcludeTypes=zip",
        ],
    )
    jars = len(list(layout.kafka_libs.glob("*.jar")))
    (home / COMPLETE_MARKER).touch()
    _say(f"Apache Kafka {layout.kafka_version}: {jars} jars, {_size(home)} in {home}")
    return home


def fetch_elasticsearch(layout: Layout) -> Path:
    home = layout.es_home
    if (home / COMPLETE_MARKER).exists():
        return home
    _say(f"fetching Elasticsearch {layout.es_version} (integ-test-zip, ~110 MB) with Maven ...")
    downloads = layout.cache_dir / "downloads"
    _maven(
        layout,
        [
            "dependency:copy-dependencies",
            f"-DoutputDirectory={downloads}",
            "-DincludeTypes=zip",
            "-DexcludeTransitive=true",
        ],
    )
    archive = downloads / f"elasticsearch-{layout.es_version}.zip"
    if not archive.exists():
        raise EngineError(f"Maven finished but {archive} is missing")
    shutil.rmtree(home, ignore_errors=True)
    _say(f"unpacking {archive.name} ({archive.stat().st_size / 1_048_576:.0f} MB) ...")
    _unzip_keeping_modes(archive, layout.cache_dir)
    archive.unlink()
    (home / COMPLETE_MARKER).touch()
    _say(f"Elasticsearch {layout.es_version}: {_size(home)} in {home}")
    return home


def fetch_all(layout: Layout) -> None:
    layout.cache_dir.mkdir(parents=True, exist_ok=True)
    fetch_kafka(layout)
    fetch_elasticsearch(layout)


if __name__ == "__main__":  # pragma: no cover - convenience
    from engines.layout import load_layout

    fetch_all(load_layout())
    sys.exit(0)

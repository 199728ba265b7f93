"""Java and Maven: find them, or say exactly what to install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from engines.errors import EngineError

MIN_JAVA = 17


def java_home() -> Path:
    """The JDK that runs both engines: $JAVA_HOME, else the one `java` on PATH belongs to."""
    explicit = os.environ.get("JAVA_HOME")
    java = Path(explicit) / "bin" / "java" if explicit else None
    if java is None or not java.exists():
        found = shutil.which("java")
        if not found:
            raise EngineError(
                f"Java {MIN_JAVA} or newer is required to run Kafka and Elasticsearch, and none was "
                f"found. Install a JDK (Debian: `apt-get install openjdk-{MIN_JAVA}-jdk-headless`) "
                "or set JAVA_HOME."
            )
        java = Path(found).resolve()
    version = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', version)
    if not match or int(match.group(1)) < MIN_JAVA:
        raise EngineError(f"{java} is not Java {MIN_JAVA}+ ({version.strip()!r}); install a newer JDK.")
    return java.parent.parent


def java_binary() -> str:
    return str(java_home() / "bin" / "java")


def maven_binary() -> str:
    found = shutil.which("mvn")
    if not found:
        raise EngineError(
            "Maven is required to fetch Kafka and Elasticsearch, and `mvn` is not on PATH. "
            "Install it (Debian: `apt-get install maven`)."
        )
    return found

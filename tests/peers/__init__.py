"""What the test peers share: reading back the JSON lines they write down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def written_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines a peer has finished writing to `path`. A read can catch the last line half
    written (CI saw one cut at its 209th character), so a line not yet ended by a newline is left for
    the next read."""
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]

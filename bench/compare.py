"""Two benchmark runs side by side, as the Markdown table the README keeps:
`python -m bench.compare BEFORE.json AFTER.json` (files written by `manage.py bench --json`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from bench.report import Row, rows


def _ratio(row: Row) -> str:
    return "" if row.ratio is None else f"{row.ratio:.2f}"


def _met(row: Row) -> str:
    return "" if row.met is None else ("yes" if row.met else "**no**")


def comparison(before: dict[str, Any], after: dict[str, Any]) -> str:
    lines = [
        "| figure | unit | target | before | ratio | after | ratio | met |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for old, new in zip(rows(before), rows(after), strict=True):
        target = new.target.replace(">=", "≥").replace("<=", "≤")
        lines.append(
            f"| {new.figure} | {new.unit} | {target} | {old.value:,.0f} | {_ratio(old)} "
            f"| {new.value:,.0f} | {_ratio(new)} | {_met(new)} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    before, after = (orjson.loads(Path(path).read_bytes()) for path in argv)
    print(comparison(before, after))


if __name__ == "__main__":
    main(sys.argv[1:])

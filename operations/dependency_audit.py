"""The verdict on a pip-audit JSON report, for bin/audit (run by bin/test).

A known vulnerability in a pinned requirement fails the build. A report that could not check some
pins (pip-audit could not reach its vulnerability database, or the package index this machine uses
does not serve per-version data) is not a vulnerability, but must not pass for "clean" either: it
warns loudly, naming what went unaudited, and the build goes on.

Usage: python -m operations.dependency_audit REPORT.json PIP_AUDIT_EXIT_CODE [PIP_AUDIT_STDERR_FILE]
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

WARNING = "WARNING [pip-audit]"


@dataclass(frozen=True)
class AuditVerdict:
    vulnerable: tuple[str, ...]  # "django 5.2.1: GHSA-… (fixed in 5.2.2)"
    unaudited: tuple[str, ...]  # "django: <why pip-audit skipped it>"
    audited: int

    @property
    def failed(self) -> bool:
        return bool(self.vulnerable)


def audit_verdict(report: Mapping[str, Any]) -> AuditVerdict:
    vulnerable: list[str] = []
    unaudited: list[str] = []
    audited = 0
    for dependency in report.get("dependencies", []):
        name = dependency.get("name", "?")
        if dependency.get("skip_reason"):
            unaudited.append(f"{name}: {dependency['skip_reason']}")
            continue
        audited += 1
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            vulnerable.append(f"{name} {dependency.get('version', '?')}: {vuln.get('id', '?')} (fixed in {fixes})")
    return AuditVerdict(vulnerable=tuple(vulnerable), unaudited=tuple(unaudited), audited=audited)


def _read_report(path: Path) -> Mapping[str, Any] | None:
    try:
        report = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return report if isinstance(report, dict) else None


def main(argv: Sequence[str]) -> int:
    report_path, exit_code = Path(argv[1]), int(argv[2])
    report = _read_report(report_path)
    if report is None:
        stderr = Path(argv[3]).read_text(errors="replace").strip().splitlines()[-3:] if len(argv) > 3 else []
        print(f"{WARNING} pip-audit did not produce a report (exit {exit_code}); its vulnerability database is")
        print(f"{WARNING} probably unreachable from this machine. The requirements were NOT audited.")
        for line in stderr:
            print(f"{WARNING}   {line}")
        return 0
    verdict = audit_verdict(report)
    for line in verdict.vulnerable:
        print(f"VULNERABLE [pip-audit] {line}")
    total = len(verdict.unaudited) + verdict.audited
    if verdict.unaudited:
        print(f"{WARNING} {len(verdict.unaudited)} of {total} requirements were NOT audited: the vulnerability")
        print(f"{WARNING} database is unreachable from this machine. Run bin/audit where it is. For example:")
        for line in verdict.unaudited[:3]:
            print(f"{WARNING}   {line}")
    if verdict.failed:
        print("pip-audit: known vulnerabilities in requirements/base.txt: bump those pins to a fixed version.")
        return 1
    print(f"pip-audit: {verdict.audited} of {total} requirements audited, no known vulnerabilities.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

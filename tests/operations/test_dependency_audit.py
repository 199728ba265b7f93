"""bin/audit's verdict: a known vulnerability fails the build, an unreachable database only warns."""

import orjson

from operations.dependency_audit import audit_verdict, main

CLEAN = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}], "fixes": []}
VULNERABLE = {
    "dependencies": [
        {"name": "django", "version": "5.2.1", "vulns": [{"id": "GHSA-xxxx", "fix_versions": ["5.2.2"]}]},
        {"name": "orjson", "version": "3.13.0", "vulns": []},
    ]
}
UNREACHABLE = {
    "dependencies": [{"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited"}]
}


def run(tmp_path, report, exit_code=0):
    path = tmp_path / "report.json"
    if report is not None:
        path.write_bytes(orjson.dumps(report))
    stderr = tmp_path / "stderr"
    stderr.write_text("requests.exceptions.ConnectionError: could not resolve the vulnerability service\n")
    return main(["audit", str(path), str(exit_code), str(stderr)])


def test_clean_report_passes(tmp_path, capsys):
    assert run(tmp_path, CLEAN) == 0
    assert "1 of 1 requirements audited, no known vulnerabilities" in capsys.readouterr().out


def test_a_known_vulnerability_fails_and_names_the_fix(tmp_path, capsys):
    assert audit_verdict(VULNERABLE).vulnerable == ("django 5.2.1: GHSA-xxxx (fixed in 5.2.2)",)
    assert run(tmp_path, VULNERABLE, exit_code=1) == 1
    assert "VULNERABLE [pip-audit] django 5.2.1: GHSA-xxxx (fixed in 5.2.2)" in capsys.readouterr().out


def test_unaudited_requirements_warn_and_pass(tmp_path, capsys):
    assert run(tmp_path, UNREACHABLE) == 0
    out = capsys.readouterr().out
    assert "WARNING [pip-audit] 1 of 1 requirements were NOT audited" in out


def test_no_report_at_all_warns_and_passes(tmp_path, capsys):
    assert run(tmp_path, None, exit_code=1) == 0
    out = capsys.readouterr().out
    assert "The requirements were NOT audited" in out
    assert "ConnectionError" in out

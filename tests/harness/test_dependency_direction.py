"""DESIGN.md 2: the store, the reports and `bench --help` do not load torch."""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        "import results, results.store, results.frames, results.export",
        "import reports",
        "import harness.suites, harness.costmodel, harness.cases",
        "from harness.cli import cli\ntry:\n    cli(['--help'], prog_name='bench')\n"
        "except SystemExit as e:\n    assert e.code == 0",
        "from harness.cli import cli\ntry:\n    cli(['list', 'smoke', '--json'])\n"
        "except SystemExit as e:\n    assert e.code == 0",
    ],
    ids=["results", "reports", "suites-and-costmodel", "bench-help", "bench-list"],
)
def test_no_torch(code: str) -> None:
    loaded = modules_after(code)
    assert "torch" not in loaded
    assert "harness" in loaded or "results" in loaded or "reports" in loaded


def test_reports_do_not_load_sqlalchemy() -> None:
    assert "sqlalchemy" not in modules_after("import reports")

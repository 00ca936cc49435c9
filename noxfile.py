"""Developer sessions. `nox` runs tests and lint; `nox -s gpu|perf|nightly` on purpose."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import nox
import nox.command

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


def install(session: nox.Session, extras: str = "test") -> None:
    # BENCH_TORCH picks a torch build, e.g. "torch==2.13.0" for a CPU wheel on disk;
    # unset, pip resolves torch from the project's lower bound.
    torch_spec = os.environ.get("BENCH_TORCH")
    if torch_spec:
        session.install(torch_spec)
    session.install("-e", f".[{extras}]")


@nox.session
def tests(session: nox.Session) -> None:
    """The README's test command: the whole suite on CPU (GPU tests skip)."""
    install(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(default=False)
def gpu(session: nox.Session) -> None:
    """On a CUDA machine, in about five minutes: the gpu-marked tests, the `gpu` suite
    (every workload, three dtypes, both layouts, the three execution modes) and a
    one-screen summary (timer agreement, roofs per math mode, clocks, modes)."""
    install(session, "test,gpu")
    session.run("pytest", "-m", "gpu", "-p", "no:cacheprovider", *session.posargs)
    db = f"sqlite:///{session.create_tmp()}/gpu.db"
    # Exit 1 means a case failed: its row says why, and the summary lists it.
    session.run("bench", "run", "gpu", "--db", db, "--label", "nox-gpu", success_codes=[0, 1])
    session.run("python", "-m", "harness.gpucheck", "--db", db)


@nox.session(default=False)
def perf(session: nox.Session) -> None:
    """The harness's own benchmarks (pytest-benchmark); their JSON is written to perf.json.

    tests/perf/test_year_report.py writes a synthetic year of nightlies (365 runs x 684
    cases, ~20 s) and times `bench report` on it: a full rebuild, the nightly incremental
    build, the biggest page and peak memory (a few minutes; `-- -k year` runs only it).
    """
    install(session)
    session.run(
        "pytest",
        "tests/perf",
        "--benchmark-enable",
        "--benchmark-only",
        "--benchmark-json",
        "perf.json",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )


@nox.session(default=False)
def nightly(session: nox.Session) -> None:
    """What the nightly workflow runs, here: a shard, regressions, compare, report.

    As .github/workflows/nightly.yml: one shard of the `nightly` suite, then the
    regression check, the comparison with the previous nightly, and the report site.
    `nox -s nightly` runs the whole suite as shard 1/1; `nox -s nightly -- 2/4` runs
    shard 2 of 4. BENCH_DB picks the database (default: .bench/results.db). Fails at the
    end, like the workflow, when a regression was found; the report is built anyway.
    Where $GITHUB_STEP_SUMMARY is set (a GitHub job), the regressions and the comparison
    are appended to it as Markdown tables.
    """
    install(session, "postgres")
    shard = session.posargs[0] if session.posargs else "1/1"
    group = f"nightly-local-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    # Exit 1 means a case failed: its row says why, and the analysis still runs.
    args = ["nightly", "--shard", shard, "--label", "nightly", "--group", group]
    session.run("bench", "run", *args, success_codes=[0, 1])
    failed: list[str] = []
    summary = os.environ.get("GITHUB_STEP_SUMMARY")

    def check(*args: str) -> None:
        try:
            session.run("bench", *args)
        except nox.command.CommandFailed:
            failed.append(args[0])
        if summary:  # the same verdicts (seeded, so identical) as Markdown, for the job page
            with open(summary, "a", encoding="utf-8") as out:
                session.run(
                    "bench",
                    *args,
                    "--format",
                    "markdown",
                    stdout=out,
                    stderr=None,
                    success_codes=[0, 1, 2],
                )
                out.write("\n")

    check("regressions", "--suite", "nightly", "--label", "nightly")
    names = session.run(
        "bench", "groups", "--suite", "nightly", "--label", "nightly", "--names", silent=True
    )
    previous = next((g for g in str(names or "").split() if g != group), None)
    if previous:
        check("compare", f"group:{previous}", f"group:{group}")
    else:
        session.log("no previous nightly to compare with")
        if summary:
            with open(summary, "a", encoding="utf-8") as out:
                out.write("no previous nightly to compare with\n")
    session.run("bench", "report", "--label", "nightly", "--out", "site")
    if failed:
        session.error(f"performance regression (or the check could not run): {', '.join(failed)}")

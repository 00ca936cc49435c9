"""Developer sessions. `nox` runs tests and lint; `nox -s gpu|perf` on purpose."""

from __future__ import annotations

import os

import nox

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
    """On a CUDA machine: the gpu-marked tests, then the smoke suite on cuda."""
    install(session)
    session.run("pytest", "-m", "gpu", "-p", "no:cacheprovider", *session.posargs)
    session.run("bench", "run", "smoke", "--device", "cuda", "--label", "nox-gpu")


@nox.session(default=False)
def perf(session: nox.Session) -> None:
    """The harness's own benchmarks (pytest-benchmark); JSON saved under .benchmarks/."""
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

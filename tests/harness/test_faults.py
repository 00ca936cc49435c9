"""Faults injected for real: a damaged SQLite file, a lock held past the busy timeout, a
PostgreSQL connection that drops, a full disk, a read-only file system, FIFOs, two
Ctrl-Cs. Each asserts the message, the exit code, and that nothing finished was lost.

Mounting a tmpfs (full disk, read-only) needs root: those tests skip elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fleet_helpers import run_rows, suite_text

import harness.execute as execute
from harness.cli import cli
from results.records import RunStatus
from results.store import Store

pytestmark = pytest.mark.slow


def bench(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """`bench ARGS` in a fresh process (faults must not leak into this one)."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=600,
    )


def inline_run(*args: str):
    """`bench run ARGS` in this process (one round, no peaks), for faults patched in."""
    return CliRunner().invoke(
        cli, ["run", *args, "--no-peaks", "--rounds", "1", "--isolation", "inline"]
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def no_traceback(out: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in out.stdout + out.stderr, out.stderr


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(suite_text([8, 16], min_time_ms=2, max_time_ms=10))
    return path


# -- a damaged file --------------------------------------------------------------------


def test_a_damaged_database_is_an_error_for_every_command_and_stays_as_it_was(tmp_path, tiny):
    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    assert bench("run", str(tiny), "--db", url, "--no-peaks", "--rounds", "1").returncode == 0
    with Store.open(url) as store:  # fold the WAL into the file, then damage its pages
        store.engine.dispose()
    page = 4096
    data = bytearray(db.read_bytes())
    assert len(data) >= 4 * page
    for offset in range(page, len(data), page):  # every page but the header's
        data[offset : offset + 64] = b"\xde\xad\xbe\xef" * 16
    db.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    before = digest(db)
    site = tmp_path / "site"
    for args in (
        ["runs"],
        ["show", "latest"],
        ["export", "latest", "--format", "json"],
        ["report", "--out", str(site)],
        ["compare", "1", "1"],
        ["regressions"],
        ["run", str(tiny), "--no-peaks", "--rounds", "1"],
    ):
        out = bench(*args, "--db", url)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "is damaged" in out.stderr or "cannot read" in out.stderr, (args, out.stderr)
        no_traceback(out)
        assert digest(db) == before, args
    assert not site.exists()


# -- a lock held past the busy timeout ----------------------------------------------------

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def held_lock(db: Path) -> Iterator[None]:
    """Another process holds SQLite's write lock until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield
    finally:
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.write("\n")
            proc.stdin.flush()
        proc.wait(timeout=30)


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def test_a_lock_held_past_the_busy_timeout_loses_nothing(tmp_path, wait_until):
    """The runner retries a held lock and every case lands once it is released."""
    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    path = tmp_path / "ten.toml"
    path.write_text(suite_text([8, 16, 24, 32, 40], min_time_ms=50, max_time_ms=100))
    env = {"BENCH_SQLITE_BUSY_MS": "100", "BENCH_DB_RETRY_S": "120"}
    proc = start(["run", str(path), "--db", url, "--no-peaks", "--rounds", "1"], env)
    assert proc.stderr is not None
    wait_until(lambda: _rows(url) >= 1, "a first committed case")
    with held_lock(db):
        # the run goes on; its next write waits behind the lock, then says it retries
        while "retrying for up to 120 s" not in (line := proc.stderr.readline()):
            assert line, "bench ended without retrying"
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    (run,), results = run_rows(url)
    assert run.status == RunStatus.FINISHED and len(results[run.id]) == 10


def _rows(url: str) -> int:
    runs, results = run_rows(url)
    return len(results[runs[0].id]) if runs else 0


def test_a_database_locked_before_the_run_starts_is_an_error_past_the_budget(tmp_path, tiny):
    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    env = {"BENCH_SQLITE_BUSY_MS": "50", "BENCH_DB_RETRY_S": "0.5"}
    first = bench("run", str(tiny), "--db", url, "--no-peaks", "--rounds", "1", "--label", "a")
    assert first.returncode == 0
    with held_lock(db):
        out = bench("run", str(tiny), "--db", url, "--no-peaks", "--rounds", "1", env=env)
    assert out.returncode == 2, out.stderr  # nothing measured yet: nothing to keep
    assert "is locked by another process" in out.stderr and "retrying" in out.stderr
    no_traceback(out)
    assert len(run_rows(url)[0]) == 1


def test_a_database_that_goes_away_mid_run_journals_and_resume_writes_it(
    tmp_path, tiny, monkeypatch
):
    """In process: the writes of a run fail as 'locked' after its first case; the rest
    goes to the journal, the run exits 3, and --resume replays without re-measuring."""
    from results import store as store_module
    from results.dberrors import StoreUnavailable

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_DB_RETRY_S", "0")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    real_add, real_replay = store_module.Store.add_result, store_module.Store.replay
    calls = {"n": 0}

    def flaky(self, run_id, record):
        calls["n"] += 1
        if calls["n"] > 1:  # after the first case, every write finds the database locked
            raise StoreUnavailable(f"{self.where} is locked by another process (test)")
        return real_add(self, run_id, record)

    def locked(self, run_id, entries):
        raise StoreUnavailable(f"{self.where} is locked by another process (test)")

    monkeypatch.setattr(store_module.Store, "add_result", flaky)
    monkeypatch.setattr(store_module.Store, "replay", locked)
    r = inline_run(str(tiny), "--db", url)
    assert r.exit_code == 3, r.output
    assert "3 case-round(s)" in r.output and "--resume" in r.output
    (run,), results = run_rows(url)
    assert len(results[run.id]) == 1 and run.status == RunStatus.RUNNING
    journal = tmp_path / "journal" / f"{run.uid}.jsonl"
    assert len(journal.read_text().splitlines()) == 3

    monkeypatch.setattr(store_module.Store, "add_result", real_add)
    monkeypatch.setattr(store_module.Store, "replay", real_replay)
    measured = []
    real_run_case = execute.run_case
    monkeypatch.setattr(
        execute, "run_case", lambda c, cfg: measured.append(c) or real_run_case(c, cfg)
    )
    # --force: the "runner" is this test's own live process (a real one has exited with 3)
    r = CliRunner().invoke(
        cli, ["run", "--resume", run.uid[:8], "--db", url, "--isolation", "inline", "--force"]
    )
    assert r.exit_code == 0, r.output
    assert measured == []  # nothing measured again: the journal had it all
    (run,), results = run_rows(url)
    assert run.status == RunStatus.FINISHED and len(results[run.id]) == 4
    assert not journal.exists()


# -- PostgreSQL behind a proxy that drops -----------------------------------------------


class Proxy:
    """A TCP proxy to PostgreSQL that can cut every connection and refuse new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.conns.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.server.close()


@pytest.mark.postgres
def test_a_postgresql_connection_cut_mid_run_loses_nothing(tmp_path, monkeypatch):
    from sqlalchemy.engine import make_url

    from tests.conftest import fresh_pg_database

    with fresh_pg_database() as direct:
        u = make_url(direct)
        proxy = Proxy((u.host or "127.0.0.1", u.port or 5432))
        try:
            url = u.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            monkeypatch.setenv("BENCH_DB_RETRY_S", "60")
            path = tmp_path / "six.toml"
            path.write_text(suite_text([8, 16, 24], min_time_ms=2, max_time_ms=10))
            from results import store as store_module

            real_add = store_module.Store.add_result
            seen = {"n": 0}

            def cut_after_first(self, run_id, record):
                seen["n"] += 1
                if seen["n"] == 2:  # the connection drops just before the second write
                    proxy.cut()
                    threading.Timer(1.0, proxy.restore).start()  # and comes back
                return real_add(self, run_id, record)

            monkeypatch.setattr(store_module.Store, "add_result", cut_after_first)
            r = inline_run(str(path), "--db", url)
            assert r.exit_code == 0, r.output
            assert "Traceback" not in r.output
            (run,), results = run_rows(direct)
            assert run.status == RunStatus.FINISHED and len(results[run.id]) == 6
        finally:
            proxy.close()


# -- a full disk, a read-only file system (root: tmpfs) ---------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    path.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until ``leave`` bytes are free."""
    free = shutil.disk_usage(folder).free
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def test_a_full_disk_mid_run_and_in_report_are_one_line_errors(tmp_path, tiny, monkeypatch):
    with tmpfs(tmp_path / "small", "4m") as disk:
        url = f"sqlite:///{disk / 'r.db'}"
        ok = bench("run", str(tiny), "--db", url, "--no-peaks", "--rounds", "1", "--label", "a")
        assert ok.returncode == 0, ok.stderr
        real, calls = execute.run_case, []

        def fill_then_time(case, config):  # the disk fills while the 2nd case is timed
            calls.append(case)
            if len(calls) == 2:
                fill(disk, leave=0)
            return real(case, config)

        monkeypatch.setattr(execute, "run_case", fill_then_time)
        r = inline_run(str(tiny), "--db", url, "--label", "b")
        assert r.exit_code == 2, r.output
        assert "the disk is full" in r.output and "Traceback" not in r.output
        (disk / "filler").unlink()
        runs, rows = run_rows(url)
        by_label = {run.label: rows[run.id] for run in runs}
        assert len(by_label["a"]) == 4  # what was stored before stays
        assert len(by_label["b"]) == 1  # and the case written before the disk filled
        fill(disk, leave=0)
        report = bench("report", "--db", url, "--out", str(tmp_path / "elsewhere"))
        assert report.returncode == 2 and "disk is full" in report.stderr, report.stderr
        (disk / "filler").unlink()
        site = disk / "site"
        site.mkdir()
        fill(disk, leave=64 * 1024)
        report = bench("report", "--db", url, "--out", str(site))
        assert report.returncode == 2 and "cannot write the report" in report.stderr
        no_traceback(report)
        assert [p.name for p in site.glob(".*.tmp")] == []


def test_a_read_only_database_is_refused_for_writing(tmp_path, tiny):
    with tmpfs(tmp_path / "ro", "4m") as disk:
        url = f"sqlite:///{disk / 'r.db'}"
        assert bench("run", str(tiny), "--db", url, "--no-peaks", "--rounds", "1").returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        before = digest(disk / "r.db")
        out = bench("run", str(tiny), "--db", url, "--no-peaks", "--rounds", "1")
        assert out.returncode == 2 and "read-only" in out.stderr, out.stderr
        no_traceback(out)
        assert digest(disk / "r.db") == before


# -- FIFOs and two Ctrl-Cs --------------------------------------------------------------


def test_fifos_are_refused_at_once(tmp_path):
    fifo = tmp_path / "suite.toml"
    os.mkfifo(fifo)
    for args in (["run", str(fifo), "--dry-run"], ["import", "pytest-benchmark", str(fifo)]):
        out = bench(*args, "--db", f"sqlite:///{tmp_path / 'r.db'}")
        assert out.returncode == 2 and "FIFO" in out.stderr, (args, out.stderr)
        no_traceback(out)


def test_two_interrupts_in_quick_succession_still_mark_the_run(tmp_path, tiny, wait_until):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    path = tmp_path / "slow.toml"
    path.write_text(suite_text([8, 16, 24, 32], min_time_ms=300, max_time_ms=600))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(path), "--db", url, "--no-peaks"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_until(lambda: run_rows(url)[0], "the run to start")
    os.killpg(proc.pid, signal.SIGINT)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    (run,), _ = run_rows(url)
    assert run.status == RunStatus.INTERRUPTED
    no_traceback(subprocess.CompletedProcess([], proc.returncode, out, err))


def test_journal_lines_are_exact_and_a_torn_last_line_is_ignored(tmp_path):
    from harness.cases import Case, described
    from results import journal
    from results.records import CaseStatus, ResultRecord

    path = tmp_path / "j.jsonl"
    rec = ResultRecord(
        **described(Case.make("conv", channels=8)),
        status=CaseStatus.OK,
        samples=[0.1 + 1e-17, 1 / 3],
        round_sizes=[2],
        contended=True,
    )
    journal.append(path, 2, rec)
    with path.open("a") as f:
        f.write('{"round": 3, "rec')  # the process died mid-line
    (entry,) = list(journal.read(path))
    assert entry[0] == 2 and entry[1].samples == rec.samples and entry[1].contended is True
    assert json.loads(path.read_text().splitlines()[0])["record"]["case_key"] == rec.case_key


def test_a_hand_edited_database_gives_messages_not_tracebacks(tmp_path, tiny):
    import sqlite3

    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    assert bench("run", str(tiny), "--db", url, "--no-peaks", "--rounds", "1").returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'paused'")
    out = bench("runs", "--db", url)
    assert out.returncode == 2 and "status 'paused'" in out.stderr, out.stderr
    no_traceback(out)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'finished'")
        conn.execute("UPDATE results SET params = '{not json' WHERE id = 1")
    out = bench("show", "latest", "--db", url)
    assert out.returncode == 2 and "not valid JSON" in out.stderr, out.stderr
    no_traceback(out)

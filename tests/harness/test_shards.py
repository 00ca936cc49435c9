"""Sharding: N shards partition a suite exactly, the same way in every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fleet_helpers import suite_text

from harness.cli import cli
from harness.cli.fleet import groups_of
from harness.runner import Shard, plan
from harness.suites import load_suite, parse_suite
from results.errors import UsageError
from results.records import RunRecord, RunStatus
from results.store import Store


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_partition_the_suite(n: int) -> None:
    suite = load_suite("conv")  # 600 cases
    everything = [c.key for c in plan(suite)]
    shards = [[c.key for c in plan(suite, shard=Shard(i, n))] for i in range(1, n + 1)]
    seen = [key for shard in shards for key in shard]
    assert sorted(seen) == sorted(everything)  # union = all, and no case twice
    assert len(set(seen)) == len(seen)
    if n > 1:  # balanced: the built-in conv suite's cases cost alike
        assert max(map(len, shards)) - min(map(len, shards)) <= 2  # pairs move together


def test_shards_apply_after_device_and_filters() -> None:
    suite = load_suite("conv")
    chosen = plan(suite, device="cuda", filters=["batch=1"])
    halves = [plan(suite, device="cuda", filters=["batch=1"], shard=Shard(i, 2)) for i in (1, 2)]
    assert sorted(c.key for h in halves for c in h) == sorted(c.key for c in chosen)


def test_shards_are_the_same_in_another_process() -> None:
    """Case keys (and so shards) do not depend on hash seeds or process state."""
    here = [c.key for c in plan(load_suite("conv"), shard=Shard(2, 3))]
    out = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "conv", "--shard", "2/3", "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout
    there = [line.split()[0] for line in out.splitlines()[:-1]]
    assert there == here


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/2", "between 1 and N"),
        ("3/2", "between 1 and N"),
        ("1/0", "between 1 and N"),
        ("2", "expected I/N"),
        ("a/b", "expected I/N"),
        ("-1/2", "expected I/N"),
    ],
)
def test_bad_shard_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Shard.parse(text)
    r = CliRunner().invoke(cli, ["run", "smoke", "--shard", text, "--dry-run"])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


def test_shard_and_group_are_stored_and_an_empty_shard_is_fine(tmp_path) -> None:
    text = suite_text([8]).replace('["conv", "separable"]', '"conv"')
    (tmp_path / "one.toml").write_text(text)
    (case,) = parse_suite(text.encode(), source="one.toml", default_name="one").cases
    suite = parse_suite(text.encode(), source="one.toml", default_name="one")
    mine = next(i for i in (1, 2) if plan(suite, shard=Shard(i, 2)) == [case])
    url = f"sqlite:///{tmp_path / 'r.db'}"
    for i in (1, 2):
        r = CliRunner().invoke(
            cli,
            ["run", str(tmp_path / "one.toml"), "--db", url, "--no-peaks", "--isolation"]
            + ["inline", "--shard", f"{i}/2", "--group", "nightly-42", "--label", "nightly"],
        )
        assert r.exit_code == 0, r.output
    with Store.open(url) as store:
        runs = sorted(store.runs(group="nightly-42"), key=lambda r: r.shard)
    assert [r.shard for r in runs] == ["1/2", "2/2"]
    assert [r.planned for r in runs] == [int(i == mine) for i in (1, 2)]
    assert [sum(r.counts.values()) for r in runs] == [int(i == mine) for i in (1, 2)]
    assert {r.status for r in runs} == {RunStatus.FINISHED}
    assert {r.label for r in runs} == {"nightly"}
    shown = json.loads(CliRunner().invoke(cli, ["runs", "--db", url, "--json"]).output)
    assert {(x["group"], x["shard"]) for x in shown} == {
        ("nightly-42", "1/2"),
        ("nightly-42", "2/2"),
    }
    (group,) = json.loads(CliRunner().invoke(cli, ["groups", "--db", url, "--json"]).output)
    assert group["status"] == "finished" and group["shards"] == {"present": [1, 2], "of": 2}
    assert group["counts"] == {"ok": 1}


def test_groups_newest_first_with_missing_and_stale_shards() -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    now = t + timedelta(hours=30)

    def run(group: str, shard: str, day: int, status=RunStatus.FINISHED) -> RunRecord:
        start = t + timedelta(days=day)
        return RunRecord(
            "nightly",
            "d",
            {},
            "f",
            started_at=start,
            heartbeat_at=start,
            group=group,
            shard=shard,
            status=status,
            label="nightly",
        )

    runs = [
        run("old", "1/2", 0),
        run("old", "2/2", 0),
        run("new", "1/3", 1),
        run("new", "3/3", 1, RunStatus.RUNNING),  # silent for hours: stale
        run("lost", "1/2", -1),
    ]
    groups = groups_of(runs)
    assert [g.name for g in groups] == ["new", "old", "lost"]
    assert [g.status(now) for g in groups] == ["stale", "finished", "partial"]
    assert groups[0].shards() == ([1, 3], 3)


@pytest.mark.parametrize("name", ["smoke", "conv", "mobilenet", "nightly"])
@pytest.mark.parametrize("n", [2, 4, 8])
def test_shards_balance_estimated_work_and_keep_partners_together(name: str, n: int) -> None:
    from harness.shards import estimated_seconds
    from results.pairs import partner_key

    suite = load_suite(name)
    cases = plan(suite, device="cpu")  # on a CPU-only machine every case counts
    shards = [plan(suite, device="cpu", shard=Shard(i, n)) for i in range(1, n + 1)]
    work = [sum(estimated_seconds(c, suite.timing) for c in s) for s in shards]
    biggest_unit = 2 * max(estimated_seconds(c, suite.timing) for c in cases)
    mean = sum(work) / n
    # within 15% of the mean, or (few cases) within the largest unit of each other
    assert max(work) - min(work) <= max(0.15 * mean, biggest_unit), work
    where = {c.key: i for i, s in enumerate(shards) for c in s}
    partners: dict = {}
    for c in cases:
        found = partner_key(c.workload, c.params)
        if found is not None:
            partners.setdefault(found[0], set()).add(where[c.key])
    assert all(len(s) == 1 for s in partners.values())  # a pair never spans shards


def test_a_24_case_suite_splits_12_and_12() -> None:
    suite = parse_suite(
        b'[[sweep]]\nworkload = ["conv", "depthwise"]\nchannels = [8, 16, 32, 64, 128, 256]\n'
        b"batch = [1, 8]\nsize = 8",
        source="t.toml",
        default_name="t",
    )
    assert len(suite.cases) == 24
    assert [len(plan(suite, shard=Shard(i, 2))) for i in (1, 2)] == [12, 12]


def test_timing_options_do_not_move_cases_between_shards() -> None:
    """Shards come from the suite's own [timing]: runners of one group given different
    --min-time/--max-time, and a later --resume, choose the same cases."""

    def keys(*extra: str) -> list[str]:
        r = CliRunner().invoke(cli, ["run", "conv", "--shard", "1/4", "--dry-run", *extra])
        assert r.exit_code == 0, r.output
        return [line.split()[0] for line in r.output.splitlines()[:-1]]

    assert keys() == keys("--min-time", "0.05", "--max-time", "0.2")

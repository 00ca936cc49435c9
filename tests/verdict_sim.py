"""Simulated benchmark histories, vectorised over cases (numpy), for the verdict tests.

A case's history is ``window + recent`` runs. Every sample of a run is the case's level
times the run's effect (lognormal, sd ``run_sd``: the machine state of that night) times
its own noise within the run (lognormal, sd ``within_sd``). Runs take unequal numbers of
samples (log-uniform between ``samples``), as adaptive stopping does. An ``outlier`` run
in the baseline is ``outlier_shift`` slower and took ``outlier_factor`` x the samples: a
disturbed night that kept sampling. The recent runs carry a true change ``change``.

:func:`run_medians` returns each run's median, the unit :mod:`results.regressions`
judges; :func:`rates` runs them through :func:`results.verdicts.judge`, the arithmetic of
:func:`results.regressions.analyze`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from results.regressions import CONFIDENCE, RECENT, WINDOW
from results.verdicts import judge


@dataclass(frozen=True)
class Setting:
    run_sd: float  # sd of the log run effect: drift between nights
    change: float = 0.0  # true change of the recent runs (0.2: 20% slower)
    outlier: bool = False  # one baseline run outlier_shift slower, outlier_factor x samples
    within_sd: float = 0.01  # sd of log samples within a run
    samples: tuple[int, int] = (20, 400)  # per-run sample counts, log-uniform
    outlier_shift: float = 0.10
    outlier_factor: int = 10
    window: int = WINDOW
    recent: int = RECENT

    def changed(self, change: float) -> Setting:
        return replace(self, change=change)

    def describe(self) -> str:
        extra = f", outlier +{self.outlier_shift:.0%}" if self.outlier else ""
        return f"run sd {self.run_sd:.0%}{extra}, change {self.change:+.0%}"


def run_medians(setting: Setting, cases: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Run medians of ``cases`` histories: (cases x window) baseline, (cases x recent)."""
    rng = np.random.default_rng(seed)
    s = setting
    n_runs = s.window + s.recent
    lo, hi = np.log(s.samples[0]), np.log(s.samples[1])
    counts = np.exp(rng.uniform(lo, hi, n_runs)).astype(int)
    effect = rng.normal(0.0, s.run_sd, (cases, n_runs))
    effect[:, s.window :] += np.log1p(s.change)
    outlier_at = rng.integers(0, s.window, cases) if s.outlier else None
    medians = np.empty((cases, n_runs))
    for j, n in enumerate(counts):
        if outlier_at is not None:
            hit = outlier_at == j
            m = np.where(hit, n * s.outlier_factor, n)
            medians[:, j] = _medians(rng, m, s.within_sd)
            effect[hit, j] += np.log1p(s.outlier_shift)
        else:
            medians[:, j] = _medians(rng, np.full(cases, n), s.within_sd)
    medians *= np.exp(effect)
    return medians[:, : s.window], medians[:, s.window :]


def _medians(rng: np.random.Generator, counts: np.ndarray, sd: float) -> np.ndarray:
    """The median of ``counts[i]`` lognormal samples (median 1) for each i."""
    out = np.empty(counts.size)
    for n in np.unique(counts):
        rows = counts == n
        out[rows] = np.median(rng.lognormal(0.0, sd, (int(rows.sum()), int(n))), axis=1)
    return out


@dataclass(frozen=True)
class Rates:
    cases: int
    counts: Counter

    def rate(self, *verdicts: str) -> float:
        return sum(self.counts[v] for v in verdicts) / self.cases

    @property
    def flagged(self) -> float:
        """slower or faster: a false alarm when nothing changed."""
        return self.rate("slower", "faster")


def rates(
    setting: Setting,
    cases: int = 400,
    seed: int = 0,
    *,
    threshold: float = 0.05,
    confidence: float = CONFIDENCE,
) -> Rates:
    """Verdict counts of ``cases`` simulated histories of ``setting``."""
    base, recent = run_medians(setting, cases, seed)
    j = judge(base, recent, threshold=threshold, confidence=confidence)
    return Rates(cases, Counter(str(v) for v in j.verdict))


def compare_round_rates(
    rounds: int,
    round_sd: float,
    run_sd: float = 0.0,
    change: float = 0.0,
    cases: int = 4000,
    seed: int = 0,
    *,
    threshold: float = 0.05,
) -> Rates:
    """``bench compare`` of two runs with ``rounds`` rounds each, judged by round medians.

    Round medians scatter by ``round_sd`` (process to process); each run as a whole is
    shifted by a run effect of sd ``run_sd``, which one run a side cannot measure.
    """
    from results.compare import CONFIDENCE

    rng = np.random.default_rng(seed)

    def side(shift: float) -> np.ndarray:
        run = rng.normal(0.0, run_sd, (cases, 1))
        return np.exp(np.log1p(shift) + run + rng.normal(0.0, round_sd, (cases, rounds)))

    j = judge(side(0.0), side(change), threshold=threshold, confidence=CONFIDENCE)
    return Rates(cases, Counter(str(v) for v in j.verdict))


SETTINGS = [
    Setting(run_sd=sd, outlier=outlier) for sd in (0.02, 0.06, 0.10) for outlier in (False, True)
]


README_CASES = 20_000  # simulated cases per row of the README's tables (~17 s on 2 cores)


def table(cases: int = README_CASES, seed: int = 1) -> str:
    """The README's table: rates per setting (python -m tests.verdict_sim)."""
    lines = [
        "| run-to-run sd | outlier run | false alarms (no change) | same | "
        "detected +20% | ambiguous at +20% |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for s in SETTINGS:
        quiet = rates(s, cases, seed)
        moved = rates(s.changed(0.2), cases, seed + 1)
        lines.append(
            f"| {s.run_sd:.0%} | {'+10%, 10x samples' if s.outlier else 'none'} | "
            f"{quiet.flagged:.1%} | {quiet.rate('same'):.1%} | {moved.rate('slower'):.1%} | "
            f"{moved.rate('ambiguous'):.1%} |"
        )
    return "\n".join(lines)


def compare_table(cases: int = README_CASES, seed: int = 1) -> str:
    """The README's table for ``bench compare`` by rounds (99% interval)."""
    lines = [
        "| rounds a side | round sd | run drift sd (unmeasured) | false alarms | same | "
        "detected +20% |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rounds in (2, 3, 5):
        for round_sd in (0.005, 0.01, 0.03):
            for run_sd in (0.0, 0.02):
                quiet = compare_round_rates(rounds, round_sd, run_sd, 0.0, cases, seed)
                moved = compare_round_rates(rounds, round_sd, run_sd, 0.2, cases, seed + 1)
                lines.append(
                    f"| {rounds} | {round_sd:.1%} | {run_sd:.0%} | {quiet.flagged:.1%} | "
                    f"{quiet.rate('same'):.1%} | {moved.rate('slower'):.1%} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
    print()
    print(compare_table())

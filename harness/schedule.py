"""The order cases run in: shuffled per round, speedup partners side by side (no torch).

A fixed order makes a case's time depend on its neighbours (a warm cache, a hot CPU, a
thread pool sized by the case before); shuffling each round by a stored seed spreads
that over the rounds, and the seed makes any order reproducible. The two sides of a
speedup pair (results.pairs) stay next to each other, in a random order, so that every
round gives one ratio measured under the same conditions.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Hashable

from harness.cases import Case
from results.pairs import partner_key

MAX_SEED = 2**63 - 1  # stored in a BIGINT column


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED)


def units(cases: list[Case]) -> list[list[Case]]:
    """The cases as scheduling units: each pair present in ``cases`` is one unit."""
    out: list[list[Case]] = []
    open_pairs: dict[Hashable, list[Case]] = {}
    for case in cases:
        found = partner_key(case.workload, case.params)
        if found is None:
            out.append([case])
            continue
        key, _ = found
        unit = open_pairs.get(key)
        if unit is not None and len(unit) == 1:
            unit.append(case)
            continue
        unit = [case]
        open_pairs[key] = unit
        out.append(unit)
    return out


def round_order(cases: list[Case], seed: int, round_no: int) -> list[Case]:
    """``cases`` in round ``round_no``'s order: units shuffled, each unit's members too.

    ``random.Random`` seeded with a string hashes it with SHA-512 (stable across runs,
    machines and Python versions), so the same seed and round give the same order.
    """
    rng = random.Random(f"bench:{seed}:{round_no}")
    shuffled = units(cases)
    rng.shuffle(shuffled)
    order: list[Case] = []
    for unit in shuffled:
        rng.shuffle(unit)
        order.extend(unit)
    return order

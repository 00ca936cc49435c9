"""The order of a round: every case once, partners adjacent, reproducible from the seed."""

from __future__ import annotations

from harness.cases import Case
from harness.schedule import round_order, units
from results.pairs import partner_key


def cases() -> list[Case]:
    out = []
    for c in (16, 32, 64):
        out += [Case.make("conv", channels=c), Case.make("separable", channels=c)]
        out += [Case.make("conv_block", channels=c), Case.make("separable_block", channels=c)]
    out += [Case.make("depthwise", channels=16), Case.make("conv", channels=8, batch=2)]
    for conv in ("standard", "separable"):
        out.append(Case.make("mobilenet_v1", alpha=0.25, conv=conv))
    out.append(Case.make("mobilenet_v2", alpha=0.35))
    return out


def test_units_pair_the_fair_partners_only() -> None:
    found = units(cases())
    pairs = [u for u in found if len(u) == 2]
    assert len(pairs) == 7  # 3 conv, 3 block, 1 network
    for a, b in pairs:
        assert partner_key(a.workload, a.params)[0] == partner_key(b.workload, b.params)[0]
        assert {partner_key(a.workload, a.params)[1], partner_key(b.workload, b.params)[1]} == {
            "standard",
            "separable",
        }
    singles = {u[0].id for u in found if len(u) == 1}
    assert singles == {
        "depthwise[channels=16]",
        "conv[channels=8,batch=2]",
        "mobilenet_v2[alpha=0.35]",
    }


def test_conv_does_not_pair_with_separable_block() -> None:
    assert (
        len(units([Case.make("conv", channels=8), Case.make("separable_block", channels=8)])) == 2
    )


def test_round_order_is_a_seeded_permutation_with_partners_adjacent() -> None:
    cs = cases()
    a = round_order(cs, seed=42, round_no=1)
    assert sorted(c.key for c in a) == sorted(c.key for c in cs)
    assert [c.key for c in a] == [c.key for c in round_order(cs, seed=42, round_no=1)]
    orders = {tuple(c.key for c in round_order(cs, 42, r)) for r in range(1, 6)}
    assert len(orders) == 5  # each round its own order
    assert [c.key for c in round_order(cs, 43, 1)] != [c.key for c in a]
    for r in range(1, 6):
        order = round_order(cs, 42, r)
        for i, c in enumerate(order):
            found = partner_key(c.workload, c.params)
            if found is None or c.id == "conv[channels=8,batch=2]":
                continue
            near = [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)]
            assert any(
                (k := partner_key(n.workload, n.params)) is not None and k[0] == found[0]
                for n in near
            )

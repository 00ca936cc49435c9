"""A steady CPU allocator: no page faults per call, whatever the process ran before."""

from __future__ import annotations

import json
import subprocess
import sys

from results.fingerprint import fingerprint

# In a fresh process: hold the allocator steady, run a 512-channel conv (large blocks
# allocated and freed), then count the page faults of separable calls that allocate
# 6.4 MB outputs. With glibc's default dynamic thresholds these are mmapped and faulted
# in on every call in some heap states (3,104 faults per call measured on a 2-core VM).
SCRIPT = """
import json, sys
from harness import allocator
state = allocator.hold_steady()
import torch
from harness.cases import Case
from harness.execute import prepare
torch.set_num_threads(1)
with torch.inference_mode():
    if sys.argv[1] == "after":
        big = prepare(Case.make("conv", channels=512, size=56, batch=2, threads=1))
        for _ in range(2):
            big.call()
        del big
    case = prepare(Case.make("separable", channels=64, size=56, batch=8, threads=1))
    for _ in range(3):
        case.call()
    before = allocator.page_faults()
    for _ in range(10):
        case.call()
    faults = (allocator.page_faults() - before) / 10
print(json.dumps({"faults": faults, "state": state, "describe": allocator.describe()}))
"""


def run(which: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, which], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_page_faults_per_call_alone_or_after_a_big_conv() -> None:
    for which in ("alone", "after"):
        got = run(which)
        assert got["state"]["steady"], got
        assert got["faults"] < 1, (which, got)  # 0 in steady state (was 3,104 unpinned)
        assert "steady" in got["describe"] and "NOT" not in got["describe"]


def test_the_allocator_is_part_of_the_fingerprint() -> None:
    env = {"cpu_model": "x", "torch": "2.13", "allocator": "glibc 2.36 (steady: mallopt)"}
    other = {**env, "allocator": "glibc 2.36 (NOT steady: default)"}
    assert fingerprint(env) != fingerprint(other)


def test_weights_come_from_the_case_not_from_what_ran_before() -> None:
    import torch

    from harness.cases import Case
    from harness.execute import prepare

    case = Case.make("separable", channels=8, size=8)
    with torch.inference_mode():
        torch.manual_seed(1)
        a = prepare(case).call()
        torch.randn(1000)  # another case drew from the global generator meanwhile
        b = prepare(case).call()
    assert torch.equal(a, b)

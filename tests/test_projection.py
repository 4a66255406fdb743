"""The summed input projections (hand-written backward), large buffers and the heap policy."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from neuroplast.allocator import keep_freed_memory
from neuroplast.functional.memory import empty_large
from neuroplast.functional.projection import project


def _inputs(dtype, requires=(True, True, False)):
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(7, 3, n, generator=g, dtype=dtype) for n in (5, 4)]
    ws = [torch.randn(6, n, generator=g, dtype=dtype) for n in (5, 4)]
    xs[0].requires_grad_(requires[0])
    ws[0].requires_grad_(requires[1])
    ws[1].requires_grad_(True)
    xs[1].requires_grad_(requires[2])
    return xs, ws


def test_projection_forward_is_linear_plus_addmm_bitwise():
    xs, ws = _inputs(torch.float32)
    expected = F.linear(xs[0], ws[0]).contiguous()
    expected.view(-1, 6).addmm_(xs[1].reshape(-1, 4), ws[1].t())
    out = project(xs, ws)
    assert out.shape == (7, 3, 6) and out.is_contiguous()
    assert torch.equal(out, expected)


@pytest.mark.parametrize("requires", [(True, True, False), (False, True, True), (True, False, True)])
def test_projection_gradients_match_autograd_and_finite_differences(requires):
    xs, ws = _inputs(torch.float64, requires)
    leaves = [t for t in (*xs, *ws) if t.requires_grad]
    grad_out = torch.randn(7, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours = torch.autograd.grad((project(xs, ws) * grad_out).sum(), leaves)
    plain = sum(F.linear(x, w) for x, w in zip(xs, ws))
    reference = torch.autograd.grad((plain * grad_out).sum(), leaves)
    for a, b in zip(ours, reference):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *t: project(t[:2], t[2:]), (*xs, *ws))


def test_projection_single_source_and_bad_lists():
    xs, ws = _inputs(torch.float32)
    assert torch.equal(project(xs[:1], ws[:1]), F.linear(xs[0], ws[0]))
    with pytest.raises(ValueError, match="one weight per input"):
        project(xs, ws[:1])


def test_empty_large_shapes_dtypes_and_small_fallback():
    big = empty_large((9, 1024, 1024), torch.float32)
    assert big.shape == (9, 1024, 1024) and big.dtype == torch.float32 and big.is_contiguous()
    big.fill_(2.0)
    assert big.sum().item() == 2.0 * big.numel()
    small = empty_large((4, 5), torch.float64)
    assert small.shape == (4, 5) and small.dtype == torch.float64
    assert empty_large((9, 1024, 1024), torch.int32).dtype == torch.int32


def test_keep_freed_memory_is_idempotent():
    first = keep_freed_memory()
    assert isinstance(first, bool) and keep_freed_memory() is first


_CHURN = """
import resource, sys
import numpy as np
from neuroplast.allocator import keep_freed_memory
applied = keep_freed_memory()
def churn():
    arrays = [np.ones(2_500_000) for _ in range(6)]  # 6 x 20 MB, freed together: above glibc's trim threshold
    del arrays
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(int(applied), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_freed_memory_is_reused_without_page_faults():
    """A second round of the same big allocations maps nothing new (without the policy glibc trims the heap
    and the round page-faults ~3,000 pages back in)."""
    applied, faults = map(int, subprocess.run([sys.executable, "-c", _CHURN], capture_output=True, text=True,
                                              check=True).stdout.split())
    if not applied:
        pytest.skip("not glibc: the heap policy does not apply")
    assert faults < 300


_WINDOW = """
import numpy as np
from neuroplast.allocator import keep_freed_memory, step_peak_window
keep_freed_memory()
def churn():
    arrays = [np.ones(2_500_000) for _ in range(6)]  # 6 x 19 MiB live at once
    del arrays
churn()  # the heap now keeps ~115 MiB that a later step could reuse without growing the resident set
figures = []
for _ in range(2):
    with step_peak_window() as got:
        a = np.ones(4_000_000)      # 30.5 MiB
        b = np.ones(2_000_000)      # 15.3 MiB, live with a: peak 45.8 MiB
        del a, b
        c = np.ones(1_000_000)      # 7.6 MiB, after the peak
        del c
    figures.append(got["mib"])
with step_peak_window() as got:
    pass
figures.append(got["mib"])
churn()
import resource
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
figures.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(*figures)
"""


def test_step_peak_window_follows_live_blocks_not_the_kept_heap():
    """The window measures the step's own peak (45.8 MiB of live arrays) every time, although the kept heap
    could hold them; an empty window reads ~0; afterwards the keep-freed-memory policy is back in force."""
    out = subprocess.run([sys.executable, "-c", _WINDOW], capture_output=True, text=True, check=True).stdout.split()
    if out[0] == "None":
        pytest.skip("no /proc/self/clear_refs or not glibc: the window is unavailable")
    first, second, empty, faults = float(out[0]), float(out[1]), float(out[2]), int(out[3])
    assert 45 < first < 50 and 45 < second < 50
    assert empty < 2
    assert faults < 300

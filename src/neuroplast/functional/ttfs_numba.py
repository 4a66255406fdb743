"""Compiled CPU kernels for spike-once IF layers and their SSTDP backward (numba, no compiler at install).

Why compiled loops: the event-driven forward wins by stopping a row as soon as every neuron has fired and by
touching only delivered events; expressed as whole-tensor torch ops it has to materialise ``(R, E, N_out)``
prefix sums, which costs more in memory traffic than it saves. The backward's ``R x N_out x N_in`` terms are
likewise accumulated in registers instead of materialised.

Window codes: 0 = step window, 1 = exponential window (see :mod:`neuroplast.functional.stdp`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def if_forward_rows(t_in, weight_t, theta, steps, out):
    """Event-driven spike-once IF. ``t_in (R, N_in)``, ``weight_t (N_in, N_out)``; ``out`` prefilled with t_max."""
    rows, n_in = t_in.shape
    n_out = weight_t.shape[1]
    for r in prange(rows):
        times = t_in[r]
        order = np.argsort(times, kind="mergesort")
        v = np.zeros(n_out, dtype=weight_t.dtype)
        fired = np.zeros(n_out, dtype=np.bool_)
        remaining = n_out
        for k in range(n_in):
            i = order[k]
            ti = times[i]
            if ti >= steps:
                break
            if ti < 0:
                continue
            for j in range(n_out):
                v[j] += weight_t[i, j]
            if k + 1 < n_in and times[order[k + 1]] == ti:
                continue
            for j in range(n_out):
                if v[j] > theta and not fired[j]:
                    fired[j] = True
                    out[r, j] = ti
                    remaining -= 1
            if remaining == 0:
                break


@njit(inline="always")
def _stdp(ti, tj, delivered, kind, a_plus, b_minus, tau):
    """STDP factor for pre time ti, post time tj (kept in sync with functional.stdp.stdp_window)."""
    if kind == 0:
        return a_plus if (delivered and ti <= tj) else -b_minus
    if delivered and ti < tj:
        return a_plus * math.exp(-(tj - ti) / tau)
    if ti == tj:
        return 0.0
    return -b_minus * math.exp(-abs(ti - tj) / tau)


@njit(parallel=True, cache=True)
def sstdp_weight_grad(t_in, t_out, grad, steps, kind, a_plus, b_minus, tau, out):
    """``out[j, i] = sum_r grad[r, j] * u(t_in[r, i], t_out[r, j])`` (the caller applies sign and batch mean)."""
    rows, n_in = t_in.shape
    n_out = t_out.shape[1]
    for j in prange(n_out):
        acc = np.zeros(n_in, dtype=np.float64)
        for r in range(rows):
            g = grad[r, j]
            if g == 0.0:
                continue
            tj = t_out[r, j]
            for i in range(n_in):
                ti = t_in[r, i]
                acc[i] += g * _stdp(ti, tj, ti >= 0 and ti < steps, kind, a_plus, b_minus, tau)
        for i in range(n_in):
            out[j, i] = acc[i]


@njit(parallel=True, cache=True)
def sstdp_time_grad(t_in, t_out, grad, weight, steps, out):
    """``out[r, i] = sum_j grad[r, j] * w[j, i]`` over causal pairs (input delivered and ``t_i <= t_j``)."""
    rows, n_in = t_in.shape
    n_out = t_out.shape[1]
    for r in prange(rows):
        for j in range(n_out):
            g = grad[r, j]
            if g == 0.0:
                continue
            tj = t_out[r, j]
            for i in range(n_in):
                ti = t_in[r, i]
                if ti <= tj and ti >= 0 and ti < steps:
                    out[r, i] += g * weight[j, i]

"""Compiled CPU kernels for the fused LIF scan (numba; no compiler step at install, so nothing can fail for a user).

Why compiled loops: the torch fused scan issues a dozen tiny tensor ops per time step (forward and backward),
so at small layer sizes per-op dispatch, and at large ones the ``(T, B, N)`` temporaries, dominate. Here one
kernel walks time for a block of neurons of one sample, with the block's state in registers or L1, and threads
share the ``B x N / block`` blocks.

Memory: the forward saves nothing but the input current ``X`` (needed for the gain gradient anyway). The
backward recomputes the block's membrane, spikes and trace for all steps into block-sized buffers (``T x block``
floats each, cache-resident) before it sweeps time backwards; recomputation runs the same code as the forward, so
the states are bit-identical.

Rounding: torch's CPU kernels fuse ``addcmul`` and ``lerp`` into fused multiply-adds (checked on AVX2/AVX-512
builds), so these kernels call ``llvm.fma`` explicitly at the same places; spikes and traces then equal
:func:`~neuroplast.functional.lif.lif_scan_reference` bit for bit. Weight and input projections stay GEMMs in
torch, outside the kernels.

Surrogate codes (``SURROGATE_CODES``) mirror :mod:`neuroplast.functional.surrogate`; a shape registered there
later has no code and makes the caller fall back to the torch path.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "SURROGATE_CODES", "trace_forward", "lif_forward", "lif_backward", "lerp_coefficients", "BLOCK", "FORWARD_BLOCK",
]

SURROGATE_CODES = {"fast_sigmoid": 0, "arctan": 1, "sigmoid": 2, "triangle": 3, "rectangular": 4}

# Neurons per backward work item. Every step of a block pays a fixed cost (row views, five short loops, their
# vector prologues), so short blocks lose: on 2 cores (float32, B = 16-32) 256 ran the backward 1.3-2.2x faster
# than 64 at N = 256-2048 and T = 500-2000, although its recompute buffers (3 x T x 256 floats) outgrow L2; 512
# was 2x slower again where a block really held 512 neurons. The forward keeps no buffers and uses longer blocks.
BLOCK = 256
FORWARD_BLOCK = 512


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (``llvm.fma``), matching torch's fused ``addcmul`` / ``lerp``."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None
    sig = a(a, b, c)

    def codegen(context, builder, signature, args):
        ty = context.get_value_type(signature.return_type)
        name = "llvm.fma.f32" if ty == ir.FloatType() else "llvm.fma.f64"
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty, ty, ty]), name)
        return builder.call(fn, args)

    return sig, codegen


@njit(inline="always")
def _lerp(coef, small, a, s):
    """torch.lerp(a, s, w) as torch's CPU kernel rounds it, from :func:`lerp_coefficients`' ``coef``, ``small``."""
    return fma(coef, s - a, a if small else s)


@njit(inline="always")
def _surrogate_row(x, kind, width, out):
    """``out[j] = g(x[j])`` for the codes in ``SURROGATE_CODES``; the switch sits outside the loop (vectorises)."""
    m = x.shape[0]
    if kind == 0:
        for j in range(m):
            d = 1.0 + abs(x[j]) / width
            out[j] = 0.5 / (width * d * d)
    elif kind == 1:
        for j in range(m):
            out[j] = width / (math.pi * (width * width + x[j] * x[j]))
    elif kind == 2:
        for j in range(m):
            e = math.exp(-abs(x[j]) / width)
            out[j] = e / ((1.0 + e) * (1.0 + e) * width)
    elif kind == 3:
        for j in range(m):
            out[j] = max(0.0, 1.0 - abs(x[j]) / width) / width
    else:
        for j in range(m):
            out[j] = (0.5 / width) if abs(x[j]) < width else 0.0


def lerp_coefficients(inv):
    """torch.lerp's CPU formula for weight ``inv``, per neuron: ``small = |inv| < 0.5`` starts from ``a[t-1]``
    with coefficient ``inv``, otherwise from ``s[t]`` with ``inv - 1`` (each a single fused multiply-add)."""
    small = np.abs(inv) < 0.5
    coef = np.where(small, inv, inv - inv.dtype.type(1)).astype(inv.dtype)
    return coef, small


@njit(parallel=True, cache=True, fastmath=False)
def trace_forward(s, coef, small, out):
    """First-order trace of ``s (T, B, N)`` into ``out`` with torch's lerp (see :func:`lerp_coefficients`)."""
    steps, batch, n = s.shape
    for b in prange(batch):
        a = np.zeros(n, dtype=s.dtype)
        for t in range(steps):
            st = s[t, b]
            ot = out[t, b]
            for j in range(n):
                aj = a[j]
                sp = st[j]
                an = _lerp(coef[j], small[j], aj, sp)
                a[j] = an
                ot[j] = an


@njit(parallel=True, cache=True, fastmath=False)
def lif_forward(x, w, alpha, coef, small, theta, r, fb_trace, one, spikes, trace):
    """Scan ``x (T, B, N)`` -> ``spikes``, ``trace`` (preallocated); hard spikes, hard reset.

    ``trace`` is ``(T, B, N)``, or ``(1, B, N)`` when the caller does not read it: each step then overwrites the
    one row, which ends as the last step's trace.

    ``w`` is the self-loop (zeros for none: ``fma(0, f, x) = x`` exactly); ``coef``/``small`` encode torch's
    lerp for the trace weight ``inv = 1 - beta``: ``small = |inv| < 0.5``, ``coef = inv`` or ``inv - 1``.
    """
    steps, batch, n = x.shape
    last = trace.shape[0] - 1
    nblocks = (n + FORWARD_BLOCK - 1) // FORWARD_BLOCK
    zero = one - one
    for item in prange(batch * nblocks):
        b = item // nblocks
        n0 = (item % nblocks) * FORWARD_BLOCK
        n1 = min(n, n0 + FORWARD_BLOCK)
        m = n1 - n0
        wv, al, th, rv, cf, sm = w[n0:n1], alpha[n0:n1], theta[n0:n1], r[n0:n1], coef[n0:n1], small[n0:n1]
        u = np.zeros(m, dtype=x.dtype)
        a = np.zeros(m, dtype=x.dtype)
        fb = np.zeros(m, dtype=x.dtype)
        for t in range(steps):
            xt = x[t, b, n0:n1]
            st = spikes[t, b, n0:n1]
            at = trace[min(t, last), b, n0:n1]
            for j in range(m):
                p = fma(al[j], u[j], rv[j] * fma(wv[j], fb[j], xt[j]))
                sp = one if p > th[j] else zero
                u[j] = p * (one - sp)
                aj = a[j]
                an = _lerp(cf[j], sm[j], aj, sp)
                a[j] = an
                fb[j] = an if fb_trace else sp
                st[j] = sp
                at[j] = an


@njit(parallel=True, cache=True, fastmath=False)
def lif_backward(
    x, w, alpha, beta, inv, coef, small, theta, r, fb_trace, one,
    grad_s, grad_a, kind, width, detach_reset, truncation, need_x, need_params,
    grad_x, g_alpha, g_beta, g_theta, g_r, g_wfb,
):
    """BPTT with the surrogate, per block of neurons: recompute states, then sweep time backwards.

    ``grad_s`` / ``grad_a`` are ``(T, B, N)`` or broadcast as ``(1, 1, N)`` (zeros when absent). Writes
    ``grad_x = r * dL/dp`` (if ``need_x``; ``grad_x`` may be ``x`` itself, overwritten step by step) and
    per-(sample, neuron) partial sums ``(B, N)`` (float64) of ``dL/dalpha``, ``dL/dbeta``, ``dL/dtheta``,
    ``dL/dr`` and ``sum dL/dp * fb[t-1]`` (the self-loop's gradient before the factor ``r``); the caller sums over
    samples. ``need_params`` (5 flags, same order) skips the sums nobody asked for: with fixed intrinsic
    parameters and no self-loop the backward is the recursion alone.
    """
    steps, batch, n = x.shape
    nblocks = (n + BLOCK - 1) // BLOCK
    zero = one - one
    gs_t, gs_b = grad_s.shape[0] > 1, grad_s.shape[1] > 1
    ga_t, ga_b = grad_a.shape[0] > 1, grad_a.shape[1] > 1
    need_alpha, need_beta, need_theta = need_params[0], need_params[1], need_params[2]
    need_r, need_wfb = need_params[3], need_params[4]
    for item in prange(batch * nblocks):
        b = item // nblocks
        n0 = (item % nblocks) * BLOCK
        n1 = min(n, n0 + BLOCK)
        m = n1 - n0
        wv, al, th, rv, cf, sm = w[n0:n1], alpha[n0:n1], theta[n0:n1], r[n0:n1], coef[n0:n1], small[n0:n1]
        be, iv = beta[n0:n1], inv[n0:n1]
        # Row t + 1 holds step t; row 0 is the initial state (zeros), so step 0 needs no special case.
        mem = np.zeros((steps + 1, m), dtype=x.dtype)
        tr = np.zeros((steps + 1, m), dtype=x.dtype)
        spk = np.zeros((steps + 1, m), dtype=x.dtype)
        u = np.zeros(m, dtype=x.dtype)
        a = np.zeros(m, dtype=x.dtype)
        fb = np.zeros(m, dtype=x.dtype)
        for t in range(steps):
            xt = x[t, b, n0:n1]
            pt = mem[t + 1]
            at = tr[t + 1]
            st = spk[t + 1]
            for j in range(m):
                p = fma(al[j], u[j], rv[j] * fma(wv[j], fb[j], xt[j]))
                sp = one if p > th[j] else zero
                u[j] = p * (one - sp)
                aj = a[j]
                an = _lerp(cf[j], sm[j], aj, sp)
                a[j] = an
                fb[j] = an if fb_trace else sp
                pt[j] = p
                at[j] = an
                st[j] = sp
        wr = np.empty(m, dtype=x.dtype)
        for j in range(m):
            wr[j] = wv[j] * rv[j]
        d_next = np.zeros(m, dtype=x.dtype)
        a_next = np.zeros(m, dtype=x.dtype)
        sg = np.empty(m, dtype=x.dtype)
        diff = np.empty(m, dtype=x.dtype)
        gx_dummy = np.empty((1, 1, m), dtype=x.dtype)
        acc_alpha = np.zeros(m)
        acc_beta = np.zeros(m)
        acc_theta = np.zeros(m)
        acc_r = np.zeros(m)
        acc_wfb = np.zeros(m)
        for t in range(steps - 1, -1, -1):
            if truncation > 0 and (t + 1) % truncation == 0:
                d_next[:] = 0
                a_next[:] = 0
            pt, pp = mem[t + 1], mem[t]
            st, sprev = spk[t + 1], spk[t]
            ap = tr[t]
            xt = x[t, b, n0:n1]
            gxt = grad_x[t, b, n0:n1] if need_x else gx_dummy[0, 0, :]
            gst = grad_s[t if gs_t else 0, b if gs_b else 0, n0:n1]
            gat = grad_a[t if ga_t else 0, b if ga_b else 0, n0:n1]
            for j in range(m):
                diff[j] = pt[j] - th[j]
            _surrogate_row(diff, kind, width, sg)
            for j in range(m):
                dn = d_next[j]
                p = pt[j]
                ga = fma(a_next[j], be[j], gat[j])
                ga = fma(wr[j], dn, ga) if fb_trace else ga
                es = fma(iv[j], ga, gst[j])
                es = es if fb_trace else fma(wr[j], dn, es)
                es = es if detach_reset else es - p * al[j] * dn
                part = sg[j] * es
                d = part + (one - st[j]) * al[j] * dn
                d_next[j] = d
                a_next[j] = ga
                sg[j] = part
            # The recursion above writes only this block's own buffers (no alias checks, so LLVM vectorises it);
            # the parameter sums and the output row follow in loops of their own (one fused loop: 2x slower).
            # The sums read x[t] before the row is written: grad_x may be x itself (a consumed current).
            if need_alpha:
                for j in range(m):
                    acc_alpha[j] += d_next[j] * (pp[j] * (one - sprev[j]))
            if need_beta:
                for j in range(m):
                    acc_beta[j] += a_next[j] * (ap[j] - st[j])
            if need_theta:
                for j in range(m):
                    acc_theta[j] -= sg[j]
            if need_r:
                for j in range(m):
                    acc_r[j] += d_next[j] * fma(wv[j], ap[j] if fb_trace else sprev[j], xt[j])
            if need_wfb:
                for j in range(m):
                    acc_wfb[j] += d_next[j] * (ap[j] if fb_trace else sprev[j])
            for j in range(m):
                gxt[j] = rv[j] * d_next[j]
        for j in range(m):
            g_alpha[b, n0 + j] = acc_alpha[j]
            g_beta[b, n0 + j] = acc_beta[j]
            g_theta[b, n0 + j] = acc_theta[j]
            g_r[b, n0 + j] = acc_r[j]
            g_wfb[b, n0 + j] = acc_wfb[j]

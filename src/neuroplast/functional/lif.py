"""Leaky integrate-and-fire neurons with a first-order synaptic trace (methods.md 1.2), time-major ``(T, B, N)``.

Per neuron ``i`` and step ``t``, with ``alpha = 1 - 1/tau_mem``, ``beta = 1 - 1/tau_syn`` (all per neuron, ``(N,)``)::

    I[t] = X[t] + w_self * f[t-1] (+ f[t-1] @ W_rec.T)   X: feedforward + skip current, f = a (default) or s
    p[t] = alpha * u[t-1] + gain * I[t]                   membrane before the spike test
    s[t] = 1 if p[t] > threshold else 0                   strict
    u[t] = p[t] * (1 - s[t])                              hard reset to 0
    a[t] = beta * a[t-1] + (1 - beta) * s[t]              trace: what the next layer, skips and the self-loop see

All states start at zero. Two implementations sit side by side:

* :func:`lif_scan_reference` is the plain time loop of torch ops, differentiated by autograd with the surrogate
  entering through :class:`~neuroplast.functional.surrogate.SpikeFunction`. It is the specification, the gradient
  reference, and the fallback for all-to-all or sparse recurrence (a full matmul per step).
* :func:`lif_scan` is the fused path for diagonal (self-loop) or no recurrence. The feedforward and skip
  projections of all steps are one matmul outside, so only the elementwise scan remains sequential. It runs
  without an autograd graph and has a hand-written backward; it stores the pre-reset membrane ``p`` and the
  spikes as ``bool`` (plus the trace, which it returns anyway) and recomputes the rest; the backward sweeps
  time in cache-sized chunks. Its forward does the same floating-point operations as the reference
  (``addcmul`` for ``X + w f`` and ``gain I + alpha u``, ``lerp`` for the trace), so spikes and traces agree
  bit for bit.

Gradient methods of the fused path (``LIFOptions.grad_method``):

``"bptt"`` (default): exact BPTT of the equations above with ``ds/dp := surrogate(p - threshold)``; the reset's
path ``du/dp = (1 - s) - p * ds/dp`` is used when ``detach_reset=False`` (default: ``du/dp = 1 - s``), and
``truncation`` cuts the time recursion. Identical to autograd through the reference with the same options.

``"tssl"``: the TSSL-BP rule (Zhang & Li, NeurIPS 2020) as read from the authors' released code
(``functions/tsslbp.py``), extended to our per-neuron gain, self-loop and intrinsic parameters. With
``e[t] = dL/ds[t]`` collected exactly as in BPTT (through the trace, which equals the code's sum of PSC
kernel ``eps[k] = (1 - beta) beta^k`` times later trace errors, plus the self-loop), the membrane error
``delta[t] = dL/dp[t]`` is, walking backwards in time with ``c`` = the error of the neuron's next spike carried
back along the leak:

* firing step (inter- + intra-neuron term):
  ``delta = kappa * (e + (1 - alpha) * p * c)``, ``kappa = min(1/dp, kappa_max)`` if ``dp > 0`` else 0,
  where ``dp = p[t] - u[t-1]`` is the membrane rise at the crossing (``d t_spike / d u = -1/dp``);
* silent step (no spike and trace ``a[t] < silent_fraction / tau_syn``, the code's ``1/(4 tau_s)``):
  ``delta = fallback_surrogate(p - threshold) * e`` (default: sigmoid derivative, width 0.2);
* other steps: ``delta = alpha * c`` (the next spike's error through the leak).
* ``c`` becomes ``delta[t]`` at a firing step and ``alpha * c`` otherwise.

Parameter gradients follow from ``delta`` as in BPTT (``dL/dX = gain * delta``, ``dL/dalpha = sum delta u[t-1]``,
``dL/dgain = sum delta I``, ``dL/dw_self = sum gain delta f[t-1]``, ``dL/dbeta`` exact); the threshold gets
``-sum delta`` over firing and silent steps (the spike-mediated part). Differences from the released code:
the inter-neuron and reset terms apply at firing steps only (the code also adds them on non-firing steps with
a rising membrane, which the paper's derivation does not have), and the fallback sigmoid's exponent is not
clamped. :func:`tssl_reference_grads` restates the rule the code's way (explicit kernel sums) for tests.

Backends of :func:`lif_scan` (``LIFOptions.backend``): ``"numba"`` runs compiled CPU kernels
(:mod:`neuroplast.functional.lif_numba`) for the forward scan and the BPTT backward, saving only the input
current and recomputing the states; ``"torch"`` is the fused torch scan above; ``"reference"`` is the plain
autograd loop (the same as ``implementation="loop"``). ``"auto"`` (default) picks numba for CPU float32/float64
tensors with hard spikes, ``grad_method="bptt"`` and a built-in surrogate when numba imports, and the torch scan
otherwise (GPU tensors, soft spikes, TSSL, a registered custom surrogate). Spikes and traces are identical on
every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from neuroplast.errors import NeuroplastError
from neuroplast.functional.compiled import compiled_kernels, numba_threads
from neuroplast.functional.memory import empty_large_like
from neuroplast.functional.surrogate import Surrogate, spike

__all__ = [
    "LIFOptions",
    "synaptic_trace",
    "lif_scan_reference",
    "lif_scan",
    "LIFScanFunction",
    "LIFScanNumba",
    "resolve_backend",
    "numba_unsupported_reason",
    "tssl_reference_grads",
]

_CHOICES = {
    "feedback": ("trace", "spike"),
    "spike_mode": ("hard", "soft"),
    "grad_method": ("bptt", "tssl"),
    "implementation": ("fused", "loop"),
    "backend": ("auto", "numba", "torch", "reference"),
}


@dataclass(frozen=True)
class LIFOptions:
    """Non-tensor settings of the LIF kernels.

    ``feedback``: what the self-loop (and recurrent matrix) feeds back, the trace ``a[t-1]`` or the spike ``s[t-1]``.
    ``spike_mode``: ``"hard"`` is the neuron; ``"soft"`` replaces ``H`` by the surrogate's smooth step ``F`` in
    the forward too, a relaxation whose exact gradient is the BPTT rule (used for finite-difference tests).
    ``implementation``: ``"fused"`` (hand-written backward) or ``"loop"`` (autograd through the plain loop).
    ``detach_reset`` (default True): the reset ``u = p (1 - s)`` passes no gradient through ``s``; with False
    its term ``-p * ds/dp`` makes ``du/dp`` exceed 1 for negative membranes, which blew gradients up over
    700 steps even without recurrence.
    ``truncation`` ``k > 0``: truncated BPTT, the state (``u``, ``a``, ``s``) is detached at every step
    ``t`` with ``t % k == 0``, so no gradient crosses those boundaries (the forward is unchanged). With
    self-loops of strength 1, tau_mem 64 and 700 steps the full-BPTT surrogate gradient grows without bound
    (the linearised loop gain ``~ tau_mem * w_self * surrogate`` exceeds 1); ``truncation`` of about tau_mem,
    or weaker self-loops, keeps it at the feedforward network's scale.
    ``backend``: which kernel :func:`lif_scan` runs, ``"auto"``, ``"numba"``, ``"torch"`` or ``"reference"``
    (see the module docstring); ``implementation="loop"`` overrides it with the reference loop.
    """

    feedback: str = "trace"
    surrogate: Surrogate = field(default_factory=Surrogate)
    spike_mode: str = "hard"
    detach_reset: bool = True
    grad_method: str = "bptt"
    implementation: str = "fused"
    tssl_kappa_max: float = 8.0
    tssl_silent_fraction: float = 0.25
    tssl_fallback: Surrogate = field(default_factory=lambda: Surrogate("sigmoid", 0.2))
    truncation: int = 0
    backend: str = "auto"

    def __post_init__(self):
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise NeuroplastError(f"LIFOptions.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.grad_method == "tssl" and (self.spike_mode != "hard" or self.implementation != "fused"):
            raise NeuroplastError("grad_method='tssl' needs spike_mode='hard' and implementation='fused'")
        if self.grad_method == "tssl" and self.backend in ("numba", "reference"):
            raise NeuroplastError(f"grad_method='tssl' runs on the torch fused scan only, not backend={self.backend!r}")
        if self.truncation < 0:
            raise NeuroplastError(f"truncation must be >= 0 (0 = full BPTT), got {self.truncation}")
        if not self.tssl_kappa_max > 0:
            raise NeuroplastError(f"tssl_kappa_max must be > 0, got {self.tssl_kappa_max}")


def _as_neuron_vector(value, name: str, n: int, like: torch.Tensor) -> torch.Tensor:
    """A scalar or ``(N,)`` tensor -> ``(N,)`` in ``like``'s dtype/device (differentiable)."""
    t = torch.as_tensor(value, device=like.device)
    if t.dim() == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise NeuroplastError(f"{name} must be a scalar or have shape ({n},) (one per neuron), got {tuple(t.shape)}")
    return t.to(like.dtype)


def _check_current(current: torch.Tensor, what: str = "current") -> None:
    if not isinstance(current, torch.Tensor) or current.dim() != 3:
        shape = tuple(current.shape) if isinstance(current, torch.Tensor) else type(current).__name__
        raise NeuroplastError(f"{what} must be time-major (T, B, N); got {shape}. Transpose batch-major input first.")
    if not current.is_floating_point():
        raise NeuroplastError(f"{what} must be a floating-point tensor, got {current.dtype}")


def synaptic_trace(spikes: torch.Tensor, tau_syn) -> torch.Tensor:
    """First-order trace ``a[t] = (1 - 1/tau) a[t-1] + s[t]/tau`` of a ``(T, B, N)`` train (differentiable).

    Computed as ``lerp(a[t-1], s[t], 1/tau)`` like the LIF kernels, so traces agree bit for bit with theirs.
    """
    _check_current(spikes, "spikes")
    beta = 1.0 - 1.0 / _as_neuron_vector(tau_syn, "tau_syn", spikes.shape[-1], spikes)
    inv = 1.0 - beta
    no_grad = not (torch.is_grad_enabled() and (spikes.requires_grad or beta.requires_grad))
    kernels = _numba_kernels() if no_grad and spikes.device.type == "cpu" and spikes.dtype in _NUMBA_DTYPES else None
    if kernels is not None:
        coef, small = kernels.lerp_coefficients(_np(inv.expand(spikes.shape[-1])))
        out = empty_large_like(spikes)
        numba_threads()
        kernels.trace_forward(_np(spikes), coef, small, out.numpy())
        return out
    a = torch.zeros_like(spikes[0])
    if no_grad:
        out = torch.empty_like(spikes)
        for s, o in zip(spikes.unbind(0), out.unbind(0)):
            torch.lerp(a, s, inv, out=o)
            a = o
        return out
    out = []
    for s in spikes.unbind(0):
        a = torch.lerp(a, s, inv)
        out.append(a)
    return torch.stack(out)


def _params(current, tau_mem, tau_syn, threshold, gain, self_weight):
    n = current.shape[-1]
    alpha = 1.0 - 1.0 / _as_neuron_vector(tau_mem, "tau_mem", n, current)
    beta = 1.0 - 1.0 / _as_neuron_vector(tau_syn, "tau_syn", n, current)
    theta = _as_neuron_vector(threshold, "threshold", n, current)
    r = _as_neuron_vector(gain, "gain", n, current)
    w = None if self_weight is None else _as_neuron_vector(self_weight, "self_weight", n, current)
    return alpha, beta, theta, r, w


def lif_scan_reference(
    current: torch.Tensor,
    tau_mem,
    tau_syn,
    threshold,
    gain,
    self_weight=None,
    recurrent_weight: torch.Tensor | None = None,
    options: LIFOptions = LIFOptions(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain time loop, autograd BPTT. ``current (T, B, N)`` -> ``(spikes, trace)``, both ``(T, B, N)``.

    ``self_weight`` is ``(N,)`` (diagonal loop), ``recurrent_weight`` ``(N, N)`` (``W[i, j]``: from j to i).
    """
    _check_current(current)
    if options.grad_method != "bptt":
        raise NeuroplastError("the reference loop implements grad_method='bptt' only; use lif_scan for 'tssl'")
    n = current.shape[-1]
    alpha, beta, theta, r, w = _params(current, tau_mem, tau_syn, threshold, gain, self_weight)
    if recurrent_weight is not None and recurrent_weight.shape != (n, n):
        raise NeuroplastError(f"recurrent_weight must be ({n}, {n}), got {tuple(recurrent_weight.shape)}")
    inv = 1.0 - beta
    u = torch.zeros_like(current[0])
    a = torch.zeros_like(u)
    s = torch.zeros_like(u)
    spikes, trace = [], []
    for t, x in enumerate(current.unbind(0)):
        if options.truncation and t and t % options.truncation == 0:
            u, a, s = u.detach(), a.detach(), s.detach()
        fb = a if options.feedback == "trace" else s
        i = x if w is None else torch.addcmul(x, w, fb)
        if recurrent_weight is not None:
            i = i + fb @ recurrent_weight.T
        p = torch.addcmul(r * i, alpha, u)
        if options.spike_mode == "hard":
            s = spike(p - theta, options.surrogate)
        else:
            s = options.surrogate.primitive(p - theta)
        u = p * (1.0 - (s.detach() if options.detach_reset else s))
        a = torch.lerp(a, s, inv)
        spikes.append(s)
        trace.append(a)
    return torch.stack(spikes), torch.stack(trace)


def _fused_forward(x, w, alpha, beta, theta, r, options):
    """The scan without autograd. Returns spikes, trace and the pre-reset membrane ``p`` (all ``(T, B, N)``)."""
    hard = options.spike_mode == "hard"
    spikes = torch.empty_like(x)
    trace = torch.empty_like(x)
    mem = torch.empty_like(x)
    u = torch.zeros_like(x[0])
    buf = torch.empty_like(u)
    a_prev = torch.zeros_like(u)
    inv = 1.0 - beta
    if w is None:
        torch.mul(r, x, out=mem)
    feedback = (trace if options.feedback == "trace" else spikes).unbind(0)
    fb_prev = torch.zeros_like(u)
    for t, (x_t, p_t, s_t, a_t) in enumerate(zip(x.unbind(0), mem.unbind(0), spikes.unbind(0), trace.unbind(0))):
        if w is not None:
            torch.addcmul(x_t, w, feedback[t - 1] if t else fb_prev, out=buf)
            torch.mul(r, buf, out=p_t)
        p_t.addcmul_(alpha, u)
        if hard:
            torch.gt(p_t, theta, out=s_t)
            torch.addcmul(p_t, p_t, s_t, value=-1.0, out=u)
        else:
            s_t.copy_(options.surrogate.primitive(p_t - theta))
            torch.mul(p_t, 1.0 - s_t, out=u)
        torch.lerp(a_prev, s_t, inv, out=a_t)
        a_prev = a_t
    return spikes, trace, mem


# Elements per time chunk of the backward sweep: chunk temporaries stay cache-sized and are reused by the
# allocator, instead of a dozen fresh (T, B, N) tensors per backward (page faults dominated that version).
_CHUNK_ELEMENTS = 1 << 17


class LIFScanFunction(torch.autograd.Function):
    """Fused LIF scan over ``(T, B, N)`` with a hand-written backward (BPTT-with-surrogate or TSSL).

    Inputs: current ``X``, ``w_self`` (``(N,)`` or None), ``alpha``, ``beta``, ``threshold``, ``gain`` (all ``(N,)``)
    and :class:`LIFOptions`. Outputs: ``(spikes, trace)``. The reparameterisation of intrinsic parameters
    (``tau -> alpha``, softplus, ...) stays outside, in autograd.
    """

    @staticmethod
    def forward(ctx, x, w, alpha, beta, theta, r, options, keep_trace=True, consume=False):
        ctx.set_materialize_grads(False)
        spikes, trace, mem = _fused_forward(x, w, alpha, beta, theta, r, options)
        stored = spikes.to(torch.bool) if options.spike_mode == "hard" else spikes
        need_x = ctx.needs_input_grad[5]
        ctx.save_for_backward(x if need_x else None, mem, stored, trace, w, alpha, beta, theta, r)
        ctx.options = options
        return spikes, trace if keep_trace else None

    @staticmethod
    def backward(ctx, grad_s, grad_a):
        saved = ctx.saved_tensors
        return *_backward(ctx.needs_input_grad, ctx.options, *saved, grad_s, grad_a), None, None


def _backward(needs, options, x, mem, stored, trace, w, alpha, beta, theta, r, grad_s, grad_a):
    """Reverse sweep in time chunks, last chunk first.

    Per step it computes ``delta = dL/dp`` and ``g_a = dL/da`` (see the module docstring for both rules), then
    reduces each chunk into the per-neuron gradients of ``alpha, beta, threshold, gain, w_self``.
    """
    if grad_s is None and grad_a is None:
        return (None,) * 7
    n_steps, batch, n = mem.shape
    dtype = mem.dtype
    chunk = max(1, _CHUNK_ELEMENTS // max(1, batch * n))
    tssl = options.grad_method == "tssl"
    wr = None if w is None else w * r
    trace_fb = wr is not None and options.feedback == "trace"
    spike_fb = wr is not None and options.feedback == "spike"
    track_a = grad_a is not None or trace_fb
    inv = 1.0 - beta
    grad_x = torch.empty_like(mem) if needs[0] else None
    acc = {name: mem.new_zeros(n) for name in ("w", "alpha", "beta", "theta", "r")}
    ga_next = dl_next = None
    cut = options.truncation
    carry = torch.zeros_like(mem[0])
    err = torch.empty_like(carry)
    for t1 in range(n_steps, 0, -chunk):
        t0 = max(0, t1 - chunk)
        size, lo = t1 - t0, max(t0, 1)
        s_ext = stored[lo - 1 : t1].to(dtype)
        ns_ext = 1.0 - s_ext
        m, s, ns = mem[t0:t1], s_ext[t0 - lo + 1 :], ns_ext[t0 - lo + 1 :]
        s_prev, ns_prev = s_ext[:-1], ns_ext[:-1]
        u_prev = mem[lo - 1 : t1 - 1] * ns_prev if needs[2] or tssl else None
        delta = grad_x[t0:t1] if grad_x is not None else torch.empty_like(m)
        ga = None
        if track_a or tssl:
            ga = grad_a[t0:t1].clone() if grad_a is not None else torch.zeros_like(m)
        ga_rows = ga.unbind(0) if ga is not None else None
        dl_rows = delta.unbind(0)
        if not tssl:
            sg = options.surrogate.derivative(m - theta)
            coupling = ns * alpha if options.detach_reset else (m * sg).neg_().add_(ns).mul_(alpha)
            if spike_fb:
                coupling.addcmul_(sg, wr)
            k = sg.mul(inv)
            base = None if grad_s is None else grad_s[t0:t1] * sg
            for i in range(size - 1, -1, -1):
                nxt = i + 1 < size
                ga_n = ga_rows[i + 1] if nxt and track_a else ga_next
                dl_n = dl_rows[i + 1] if nxt else dl_next
                if cut and (t0 + i + 1) % cut == 0:
                    ga_n = dl_n = None
                if track_a and ga_n is not None:
                    ga_rows[i].addcmul_(beta, ga_n)
                    if trace_fb:
                        ga_rows[i].addcmul_(wr, dl_n)
                if base is None:
                    torch.mul(k[i], ga_rows[i], out=dl_rows[i])
                elif track_a:
                    torch.addcmul(base[i], k[i], ga_rows[i], out=dl_rows[i])
                else:
                    dl_rows[i].copy_(base[i])
                if dl_n is not None:
                    dl_rows[i].addcmul_(coupling[i], dl_n)
            d = delta[lo - t0 :]
            if needs[4]:
                acc["theta"] -= delta.sum((0, 1))
                leak_back = (d * ns_prev).sum(1)
                if cut:
                    leak_back = leak_back[torch.arange(lo, t1, device=mem.device) % cut != 0]
                acc["theta"] += alpha * leak_back.sum(0)
        else:
            up = torch.zeros_like(m)
            up[lo - t0 :] = u_prev
            rise = m.sub(up)
            kappa = torch.where(rise > 0, rise.reciprocal().clamp_(max=options.tssl_kappa_max), up.zero_())
            silent = ((s == 0) & (trace[t0:t1] < options.tssl_silent_fraction * inv)).to(dtype)
            k_err = s * kappa + silent * options.tssl_fallback.derivative(m - theta)
            k_carry = (s * kappa * m).mul_(1.0 - alpha).add_((ns - silent).mul_(alpha))
            leak = ns * alpha
            for i in range(size - 1, -1, -1):
                t = t0 + i
                nxt = i + 1 < size
                ga_n = ga_rows[i + 1] if nxt else ga_next
                dl_n = dl_rows[i + 1] if nxt else dl_next
                if cut and (t + 1) % cut == 0:
                    ga_n = dl_n = None
                    carry.zero_()
                if ga_n is not None:
                    ga_rows[i].addcmul_(beta, ga_n)
                    if trace_fb:
                        ga_rows[i].addcmul_(wr, dl_n)
                torch.mul(inv, ga_rows[i], out=err)
                if grad_s is not None:
                    err.add_(grad_s[t])
                if spike_fb and dl_n is not None:
                    err.addcmul_(wr, dl_n)
                torch.mul(k_err[i], err, out=dl_rows[i])
                dl_rows[i].addcmul_(k_carry[i], carry)
                carry.mul_(leak[i]).addcmul_(s[i], dl_rows[i])
            d = delta[lo - t0 :]
            if needs[4]:
                acc["theta"] -= (delta * (s + silent)).sum((0, 1))
        if needs[2]:
            acc["alpha"] += (d * u_prev).sum((0, 1))
        if w is not None and (needs[1] or needs[5]):
            fb_prev = trace[lo - 1 : t1 - 1] if options.feedback == "trace" else s_prev
            acc["w"] += (d * fb_prev).sum((0, 1))
        if needs[3] and ga is not None:
            acc["beta"] += (ga[lo - t0 :] * trace[lo - 1 : t1 - 1]).sum((0, 1)) - (ga * s).sum((0, 1))
        if needs[5]:
            acc["r"] += (delta * x[t0:t1]).sum((0, 1))
        ga_next = ga_rows[0] if ga_rows is not None else None
        dl_next = dl_rows[0]
    if grad_x is not None:
        grad_x.mul_(r)
    grad_w = grad_r = None
    if w is not None and needs[1]:
        grad_w = r * acc["w"]
    if needs[5]:
        grad_r = acc["r"] + w * acc["w"] if w is not None else acc["r"]
    return (
        grad_x,
        grad_w,
        acc["alpha"] if needs[2] else None,
        acc["beta"] if needs[3] else None,
        acc["theta"] if needs[4] else None,
        grad_r,
        None,
    )


_NUMBA_DTYPES = (torch.float32, torch.float64)


def _numba_kernels():
    """The compiled kernels module, or None when numba is missing or fails to import (then: torch scan)."""
    return compiled_kernels("lif_numba")


def numba_unsupported_reason(current: torch.Tensor, options: LIFOptions) -> str | None:
    """Why the numba backend cannot run this call (None when it can)."""
    if current.device.type != "cpu":
        return f"tensors on {current.device.type}, the numba kernels are CPU-only"
    if current.dtype not in _NUMBA_DTYPES:
        return f"dtype {current.dtype}; the numba kernels cover float32 and float64"
    if options.spike_mode != "hard":
        return "spike_mode='soft'"
    if options.grad_method != "bptt":
        return f"grad_method={options.grad_method!r} (the TSSL backward runs on the torch fused scan)"
    kernels = _numba_kernels()
    if kernels is None:
        return "numba is not importable"
    if options.surrogate.name not in kernels.SURROGATE_CODES:
        return f"surrogate {options.surrogate.name!r} has no compiled version"
    return None


def resolve_backend(current: torch.Tensor, options: LIFOptions) -> str:
    """The backend :func:`lif_scan` runs for this input: ``"numba"``, ``"torch"`` or ``"reference"``."""
    if options.implementation == "loop" or options.backend == "reference":
        return "reference"
    if options.backend == "torch":
        return "torch"
    reason = numba_unsupported_reason(current, options)
    if options.backend == "numba" and reason is not None:
        raise NeuroplastError(f"backend='numba' cannot run: {reason}; use backend='auto' or 'torch'")
    return "numba" if reason is None else "torch"


def _np(t: torch.Tensor):
    return t.detach().contiguous().numpy()


def _grad_np(g: torch.Tensor | None, like: torch.Tensor):
    """An upstream gradient as a C array; one broadcast over time and batch (``loss = out.sum()``) stays
    ``(1, 1, N)`` instead of being materialised at ``(T, B, N)``; a missing one is ``(1, 1, N)`` zeros."""
    if g is None:
        return like.new_zeros(1, 1, like.shape[2]).numpy()
    g = g.detach().to(like.dtype)
    if g.stride(0) == 0 and g.stride(1) == 0:
        g = g[:1, :1]
    return g.contiguous().numpy()


class LIFScanNumba(torch.autograd.Function):
    """The fused scan on the numba kernels: same inputs and outputs as :class:`LIFScanFunction` (BPTT only).

    Saves the input current and the parameters only; the backward recomputes membrane and trace per block of
    neurons (see :mod:`neuroplast.functional.lif_numba`). Without ``keep_trace`` the trace is never stored: one
    ``(T, B, N)`` tensor less at the peak.
    """

    @staticmethod
    def forward(ctx, x, w, alpha, beta, theta, r, options, keep_trace=True, consume=False):
        ctx.set_materialize_grads(False)
        kernels = _numba_kernels()
        xc = x.detach().contiguous()
        # A consumed current (an intermediate only this scan reads) takes its own gradient in place: one
        # (T, B, N) tensor less at the backward's peak.
        ctx.consume, ctx.consumed = consume, False
        args = _numba_params(kernels, xc, w, alpha, beta, theta, r)
        spikes = empty_large_like(xc)
        trace = empty_large_like(xc) if keep_trace else xc.new_empty((1,) + xc.shape[1:])
        numba_threads()
        kernels.lif_forward(_np(xc), args["w"], args["alpha"], args["coef"], args["small"], args["theta"],
                            args["r"], options.feedback == "trace", args["one"], spikes.numpy(), trace.numpy())
        ctx.save_for_backward(xc, w, alpha, beta, theta, r)
        ctx.options = options
        return spikes, trace if keep_trace else None

    @staticmethod
    def backward(ctx, grad_s, grad_a):
        if grad_s is None and grad_a is None:
            return (None,) * 9
        needs = ctx.needs_input_grad
        options = ctx.options
        if ctx.consumed:
            raise NeuroplastError("a second backward through a LIF scan whose input current was consumed by the "
                                  "first (its gradient overwrote it); build the graph again, or call the layer "
                                  "with consume_current=False to backward twice (retain_graph)")
        kernels = _numba_kernels()
        x, w, alpha, beta, theta, r = ctx.saved_tensors
        batch, n = x.shape[1], x.shape[2]
        args = _numba_params(kernels, x, w, alpha, beta, theta, r)
        in_place = ctx.consume and needs[0]
        ctx.consumed = in_place
        grad_x = (x if in_place else empty_large_like(x)) if needs[0] else x[:1, :1]
        partial = torch.zeros(5, batch, n, dtype=torch.float64)
        numba_threads()
        kernels.lif_backward(
            _np(x), args["w"], args["alpha"], args["beta"], args["inv"], args["coef"], args["small"], args["theta"],
            args["r"], options.feedback == "trace", args["one"], _grad_np(grad_s, x), _grad_np(grad_a, x),
            kernels.SURROGATE_CODES[options.surrogate.name], float(options.surrogate.width),
            bool(options.detach_reset), int(options.truncation), bool(needs[0]),
            np.array([needs[2], needs[3], needs[4], needs[5], w is not None and needs[1]], dtype=np.bool_),
            grad_x.numpy(), *partial.numpy(),
        )
        g_alpha, g_beta, g_theta, g_r, g_wfb = partial.sum(1).to(x.dtype).unbind(0)
        return (
            grad_x if needs[0] else None,
            r.detach() * g_wfb if w is not None and needs[1] else None,
            g_alpha if needs[2] else None,
            g_beta if needs[3] else None,
            g_theta if needs[4] else None,
            g_r if needs[5] else None,
            None,
            None,
            None,
        )


def _numba_params(kernels, x, w, alpha, beta, theta, r) -> dict:
    """Per-neuron vectors as C arrays for the kernels; ``inv = 1 - beta`` is formed in torch, as the reference
    forms it, so the trace's lerp sees the same weight."""
    inv = 1.0 - beta.detach()
    coef, small = kernels.lerp_coefficients(_np(inv))
    return {
        "w": _np(w) if w is not None else _np(torch.zeros_like(alpha)),
        "alpha": _np(alpha), "beta": _np(beta), "inv": _np(inv), "theta": _np(theta), "r": _np(r),
        "coef": coef, "small": small, "one": x.new_ones(()).numpy()[()],
    }


def lif_scan(
    current: torch.Tensor,
    tau_mem,
    tau_syn,
    threshold,
    gain,
    self_weight=None,
    options: LIFOptions = LIFOptions(),
    trace: bool = True,
    consume_current: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fused LIF scan: ``current (T, B, N)`` (feedforward + skip projections of all steps) -> ``(spikes, trace)``.

    Intrinsic parameters are scalars or ``(N,)`` tensors; ``self_weight`` ``(N,)`` adds the one-step-delayed
    diagonal loop. ``options.backend`` picks the kernel (:func:`resolve_backend`); with
    ``options.implementation == "loop"`` this runs :func:`lif_scan_reference` instead. ``trace=False`` returns
    ``(spikes, None)`` for a layer whose trace nothing reads (an output layer): the compiled path then never
    stores it. ``consume_current=True`` promises that nothing else reads ``current`` (e.g. a projection made
    just for this call): the compiled backward then writes the current's gradient over it, one ``(T, B, N)``
    tensor less at the peak, and a second backward through the same graph raises. A leaf current is never
    consumed.
    """
    _check_current(current)
    backend = resolve_backend(current, options)
    if backend == "reference":
        spikes, out_trace = lif_scan_reference(current, tau_mem, tau_syn, threshold, gain, self_weight, None, options)
        return spikes, out_trace if trace else None
    alpha, beta, theta, r, w = _params(current, tau_mem, tau_syn, threshold, gain, self_weight)
    fn = LIFScanNumba if backend == "numba" else LIFScanFunction
    consume = consume_current and current.grad_fn is not None
    return fn.apply(current, w, alpha, beta, theta, r, options, trace, consume)


@torch.no_grad()
def tssl_reference_grads(
    current: torch.Tensor,
    tau_mem,
    tau_syn,
    threshold,
    gain,
    grad_spikes: torch.Tensor,
    grad_trace: torch.Tensor,
    self_weight=None,
    options: LIFOptions = LIFOptions(grad_method="tssl"),
) -> dict[str, torch.Tensor]:
    """The TSSL rule restated the released code's way: explicit PSC-kernel sums (O(T^2)), next-spike carry.

    Returns gradients for ``current``, ``self_weight`` (if given), ``tau_mem``, ``tau_syn``, ``threshold`` and
    ``gain`` (as ``(N,)`` per-neuron tensors), given upstream gradients on spikes and trace. For tests only.
    """
    _check_current(current)
    if options.truncation:
        raise NeuroplastError("tssl_reference_grads covers full BPTT only (truncation=0)")
    n_steps, n = current.shape[0], current.shape[-1]
    tau_m = _as_neuron_vector(tau_mem, "tau_mem", n, current)
    tau_s = _as_neuron_vector(tau_syn, "tau_syn", n, current)
    alpha, beta = 1.0 - 1.0 / tau_m, 1.0 - 1.0 / tau_s
    theta = _as_neuron_vector(threshold, "threshold", n, current)
    r = _as_neuron_vector(gain, "gain", n, current)
    w = None if self_weight is None else _as_neuron_vector(self_weight, "self_weight", n, current)
    plain = LIFOptions(feedback=options.feedback, surrogate=options.surrogate)
    spikes, trace = lif_scan_reference(current, tau_m, tau_s, theta, r, w, None, plain)
    fb = trace if options.feedback == "trace" else spikes
    zero = torch.zeros_like(current[0])
    mems, u_prevs, currents = [], [], []
    u = zero
    for t in range(n_steps):
        i = current[t] if w is None else torch.addcmul(current[t], w, fb[t - 1] if t else zero)
        p = torch.addcmul(r * i, alpha, u)
        mems.append(p)
        u_prevs.append(u)
        currents.append(i)
        u = p * (1.0 - spikes[t])
    powers = torch.arange(n_steps, dtype=current.dtype, device=current.device)[:, None]
    eps = (1.0 - beta) * beta**powers
    decay = beta**powers
    g_tot = grad_trace.clone()
    delta = torch.zeros_like(current)
    theta_c = zero.clone()
    grad_beta = current.new_zeros(n)
    for t in range(n_steps - 1, -1, -1):
        later = t + 1 < n_steps
        if w is not None and options.feedback == "trace" and later:
            g_tot[t] += w * r * delta[t + 1]
        window = g_tot[t:]
        e = grad_spikes[t] + (eps[: n_steps - t, None, :] * window).sum(0)
        if w is not None and options.feedback == "spike" and later:
            e = e + w * r * delta[t + 1]
        g_a = (decay[: n_steps - t, None, :] * window).sum(0)
        grad_beta += (g_a * ((trace[t - 1] if t else zero) - spikes[t])).sum(0)
        rise = mems[t] - u_prevs[t]
        kappa = torch.where(rise > 0, (1.0 / rise).clamp(max=options.tssl_kappa_max), zero)
        fired = spikes[t] > 0
        silent = ~fired & (trace[t] < options.tssl_silent_fraction / tau_s)
        d = torch.where(fired, kappa * (e + (1.0 - alpha) * mems[t] * theta_c), alpha * theta_c)
        d = torch.where(silent, options.tssl_fallback.derivative(mems[t] - theta) * e, d)
        delta[t] = d
        theta_c = torch.where(fired, d, alpha * theta_c)
    spike_part = (spikes > 0) | ((spikes == 0) & (trace < options.tssl_silent_fraction / tau_s))
    out = {
        "current": r * delta,
        "tau_mem": (delta * torch.stack(u_prevs)).sum((0, 1)) / tau_m**2,
        "tau_syn": grad_beta / tau_s**2,
        "threshold": -(delta * spike_part).sum((0, 1)),
        "gain": (delta * torch.stack(currents)).sum((0, 1)),
    }
    if w is not None:
        out["self_weight"] = r * (delta[1:] * fb[:-1]).sum((0, 1))
    return out

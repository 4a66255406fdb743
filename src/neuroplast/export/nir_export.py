"""Model exchange through NIR (the Neuromorphic Intermediate Representation), both ways.

NIR describes neurons in continuous time; neuroplast simulates discrete steps. The mapping (docs/nir.md) is the
forward-Euler step of NIR's equations with step ``dt`` (seconds, ``DEFAULT_DT`` unless given):

* ScSr LIF neuron, per neuron: ``tau = tau_mem * dt``, ``r = gain * tau_mem``, ``v_leak = 0``,
  ``v_threshold = threshold``, ``v_reset = 0`` (then ``v + dt/tau (-v + r I)`` is exactly
  ``(1 - 1/tau_mem) v + gain I``);
* the first-order synaptic trace ``a = (1 - 1/tau_syn) a + s / tau_syn``: an ``LI`` node with
  ``tau = tau_syn * dt``, ``r = 1``, ``v_leak = 0`` (``form="lif"``), or folded into the next layer's
  ``CubaLIF`` (``tau_syn``, ``w_in = 1``) when every trace entering that layer has one common time constant
  (``form="cubalif"``; a trace is linear, so filtering before or after the weights is the same only then);
* self-loops: a ``Linear`` node with a diagonal matrix from the layer back to its own input (the simulator's
  one-step delay on a cycle is the ``t - 1`` of the self-loop); skips: ``Linear`` nodes on extra edges.

SSTDP nets are written as ``Linear``/``Conv2d`` + ``IF`` nodes, but NIR cannot say "fire once and never again"
nor "the output is the time of the first spike": the graph's metadata says so, and :func:`import_nir` rebuilds a
spike-once net only from neuroplast's own metadata (with a warning) and refuses a bare IF graph.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from neuroplast.errors import NeuroplastError

__all__ = ["DEFAULT_DT", "FORMS", "to_nir", "write_nir", "import_nir", "export_result", "load_result_model",
           "NIRSemanticsWarning", "SPIKE_ONCE_NOTE"]

DEFAULT_DT = 1e-4
FORMS = ("auto", "lif", "cubalif")
META_KEY = "neuroplast"
META_FORMAT = 1
SPIKE_ONCE_NOTE = (
    "neuroplast SSTDP nets use spike-once integrate-and-fire neurons with time-to-first-spike coding: each neuron "
    "fires at most once (the first step with v > theta) and the class is the output neuron that fires first. NIR's "
    "IF node re-fires after its reset and has no notion of first-spike decoding, so a NIR simulator running this "
    "graph computes something else once a neuron would fire twice. Min-pooling of spike times is written as "
    "SumPool2d, which differs when more than one input of a window spikes."
)


class NIRSemanticsWarning(UserWarning):
    """The graph's NIR semantics differ from the neuroplast model it was rebuilt into."""


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def _vec(value: float, like: np.ndarray) -> np.ndarray:
    return np.full(like.shape, value, dtype=like.dtype)


def _uniform(values) -> float | None:
    """The one value shared by all entries of all arrays, or None."""
    flat = np.concatenate([np.ravel(v) for v in values])
    return float(flat[0]) if flat.size and np.all(flat == flat[0]) else None


def to_nir(model, dt: float = DEFAULT_DT, form: str = "auto"):
    """A ``nir.NIRGraph`` for an :class:`~neuroplast.models.scsr.ScSrSNN` or an SSTDP net (``SSTDPNet``)."""
    from neuroplast.models.scsr import ScSrSNN
    from neuroplast.models.sstdp import SSTDPNet

    if not dt > 0:
        raise NeuroplastError(f"dt must be > 0 seconds, got {dt}")
    if form not in FORMS:
        raise NeuroplastError(f"NIR form must be one of {', '.join(FORMS)}, got {form!r}")
    if isinstance(model, ScSrSNN):
        return _scsr_to_nir(model, dt, form)
    if isinstance(model, SSTDPNet):
        return _sstdp_to_nir(model, dt)
    raise NeuroplastError(f"cannot export {type(model).__name__} to NIR; supported: ScSrSNN, SSTDPNet")


def write_nir(model, path, dt: float = DEFAULT_DT, form: str = "auto", metadata: dict | None = None) -> Path:
    """Write ``model`` as a NIR file (HDF5); ``metadata`` (JSON-able) is stored beside neuroplast's own."""
    import nir

    graph = to_nir(model, dt, form)
    if metadata:
        meta = json.loads(graph.metadata[META_KEY])
        meta["run"] = metadata
        graph.metadata[META_KEY] = json.dumps(meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        nir.write(tmp, graph)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------------------------------- ScSr ----


def _scsr_cubalif_exact(model) -> bool:
    """True when every layer's incoming traces share one time constant and self-loops feed back the trace."""
    recurrent = any(layer.recurrence != "none" for layer in model.layers)
    if recurrent and model.layers[0].neurons.options.feedback != "trace":
        return False
    own = [np.array([model.input_tau_syn])] + [_np(layer.neurons.tau_syn) for layer in model.layers]
    for dst, layer in enumerate(model.layers, start=1):
        sources = [dst - 1, *model.skip_sources[dst]] + ([dst] if layer.recurrence != "none" else [])
        if _uniform([own[s] for s in sources]) is None:
            return False
    return True


def _scsr_to_nir(model, dt: float, form: str):
    import nir

    if form == "auto":
        form = "cubalif" if _scsr_cubalif_exact(model) else "lif"
    elif form == "cubalif" and not _scsr_cubalif_exact(model):
        raise NeuroplastError(
            "form 'cubalif' is exact only when all traces entering a layer share one tau_syn (and self-loops feed "
            "back the trace); this model's differ (BIP-trained tau_syn?), use form 'lif' or 'auto'")
    n_layers = len(model.sizes)
    nodes = {"input": nir.Input(input_type={"input": np.array([model.sizes[0]])})}
    edges = []
    first = model.layers[0].weight
    in_tau = np.full(model.sizes[0], model.input_tau_syn, dtype=_np(first).dtype)
    own_tau = [in_tau] + [_np(layer.neurons.tau_syn) for layer in model.layers]

    def source(src: int) -> str:
        """The node whose output layer ``src``'s targets read: the trace (lif form) or the spikes (cubalif)."""
        if form == "lif":
            return f"trace{src}"
        return "input" if src == 0 else f"lif{src}"

    if form == "lif":
        nodes["trace0"] = nir.LI(tau=in_tau * dt, r=np.ones_like(in_tau), v_leak=np.zeros_like(in_tau))
        edges.append(("input", "trace0"))
    feedback = model.layers[0].neurons.options.feedback
    for dst, layer in enumerate(model.layers, start=1):
        n = layer.neurons
        tau_mem, thr, gain = _np(n.tau_mem), _np(n.threshold), _np(n.gain)
        zeros = np.zeros_like(thr)
        name = f"lif{dst}"
        if form == "lif":
            nodes[name] = nir.LIF(tau=tau_mem * dt, r=gain * tau_mem, v_leak=zeros, v_threshold=thr, v_reset=zeros)
        else:
            tau_in = _uniform([own_tau[dst - 1]])
            nodes[name] = nir.CubaLIF(tau_syn=_vec(tau_in * dt, thr), tau_mem=tau_mem * dt, r=gain * tau_mem,
                                      v_leak=zeros, v_threshold=thr, v_reset=zeros.copy(), w_in=np.ones_like(thr))
        nodes[f"w{dst}"] = nir.Linear(weight=_np(layer.weight))
        edges += [(source(dst - 1), f"w{dst}"), (f"w{dst}", name)]
        for src, w in zip(model.skip_sources[dst], layer.skip_weight):
            key = f"skip{src}_{dst}"
            nodes[key] = nir.Linear(weight=_np(w))
            edges += [(source(src), key), (key, name)]
        if layer.recurrence != "none":
            matrix = (np.diag(_np(layer.self_weight)) if layer.recurrence == "self"
                      else _np(layer.effective_recurrent_weight()))
            nodes[f"rec{dst}"] = nir.Linear(weight=matrix)
            back = name if (form == "cubalif" or feedback == "spike") else f"trace{dst}"
            edges += [(back, f"rec{dst}"), (f"rec{dst}", name)]
        if form == "lif" and dst < n_layers - 1:
            tau_syn = own_tau[dst]
            nodes[f"trace{dst}"] = nir.LI(tau=tau_syn * dt, r=np.ones_like(tau_syn), v_leak=np.zeros_like(tau_syn))
            edges.append((name, f"trace{dst}"))
    nodes["output"] = nir.Output(output_type={"output": np.array([model.sizes[-1]])})
    edges.append((f"lif{n_layers - 1}", "output"))
    opts = model.layers[0].neurons.options
    meta = {
        "format": META_FORMAT, "method": "scsr", "form": form, "dt": dt, "sizes": list(model.sizes),
        "skips": [list(s) for s in model.skips], "recurrence": model.recurrence, "feedback": feedback,
        "density": model.layers[0].density,
        "trainable": {k: bool(getattr(model.layers[0].neurons, f"{k}_raw").requires_grad)
                      for k in ("tau_mem", "tau_syn", "threshold", "gain")},
        "ranges": {k: list(v) for k, v in model.layers[0].neurons.ranges.items()},
        "options": {"surrogate": opts.surrogate.name, "surrogate_width": opts.surrogate.width,
                    "grad_method": opts.grad_method, "truncation": opts.truncation},
        "own_tau_syn": [own_tau[k].tolist() for k in range(n_layers)],
        "note": ("discrete-time ScSr-SNN; NIR parameters are the forward-Euler equivalents with step dt "
                 "(tau = steps * dt, LIF r = gain * tau_mem_steps); cycles (self-loops) carry a one-step delay"),
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: json.dumps(meta)})


# -------------------------------------------------------------------------------------------------- SSTDP ----


def _sstdp_to_nir(net, dt: float):
    import nir

    from neuroplast.models.sstdp import MinPool2d, SpikeOnceConv2d, SpikeOnceLinear

    nodes = {"input": nir.Input(input_type={"input": np.array(net.input_shape)})}
    edges = []
    bias_weights, omitted = {}, []
    prev, shape = "input", tuple(net.input_shape)
    for k, layer in enumerate(net.layers):
        if isinstance(layer, SpikeOnceConv2d):
            w = _np(layer.weight[:, :layer.n_in]).reshape(layer.n_out, layer.c_in, layer.kernel_size,
                                                          layer.kernel_size)
            nodes[f"conv{k}"] = nir.Conv2d(input_shape=shape[1:], weight=w, stride=layer.stride,
                                           padding=layer.padding, dilation=1, groups=1,
                                           bias=np.zeros(layer.n_out, dtype=w.dtype))
            shape = (layer.n_out, *layer.out_hw(shape[1], shape[2]))
            edges.append((prev, f"conv{k}"))
            prev = f"conv{k}"
        elif isinstance(layer, SpikeOnceLinear):
            if len(shape) > 1:
                nodes[f"flatten{k}"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
                edges.append((prev, f"flatten{k}"))
                prev, shape = f"flatten{k}", (int(np.prod(shape)),)
            nodes[f"fc{k}"] = nir.Linear(weight=_np(layer.weight[:, :layer.n_in]))
            edges.append((prev, f"fc{k}"))
            prev, shape = f"fc{k}", (layer.n_out,)
        elif isinstance(layer, MinPool2d):
            size = np.array([layer.kernel_size] * 2)
            nodes[f"pool{k}"] = nir.SumPool2d(kernel_size=size, stride=np.array([layer.stride] * 2),
                                              padding=np.zeros(2, dtype=int))
            edges.append((prev, f"pool{k}"))
            prev = f"pool{k}"
            shape = (shape[0], (shape[1] - layer.kernel_size) // layer.stride + 1,
                     (shape[2] - layer.kernel_size) // layer.stride + 1)
            continue
        spec = layer.spec
        thr = np.full(shape, spec.theta, dtype=_np(layer.weight).dtype)
        if layer.bias_times:
            bias = _np(layer.weight[:, layer.n_in:])
            bias_weights[str(k)] = bias.tolist()
            if set(layer.bias_times) == {0} and spec.tau_leak is None:
                # Drive that arrives at step 0 in every sample is a lower threshold: exact without leak.
                lower = bias.sum(axis=1)
                thr = thr - lower.reshape((-1,) + (1,) * (len(shape) - 1))
            else:
                omitted.append(k)
        if spec.tau_leak is None:
            nodes[f"if{k}"] = nir.IF(r=np.ones_like(thr), v_threshold=thr, v_reset=np.zeros_like(thr))
        else:
            nodes[f"if{k}"] = nir.LIF(tau=np.full_like(thr, spec.tau_leak * dt), r=np.ones_like(thr),
                                      v_leak=np.zeros_like(thr), v_threshold=thr, v_reset=np.zeros_like(thr))
        edges.append((prev, f"if{k}"))
        prev = f"if{k}"
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    edges.append((prev, "output"))
    s = net.spec
    meta = {"format": META_FORMAT, "method": "sstdp", "dt": dt, "input_shape": list(net.input_shape),
            "layers": net.layer_specs,
            "spec": {"theta": s.theta, "t_max": s.t_max, "window": s.window, "tau_leak": s.tau_leak,
                     "stdp_window": s.stdp_window, "a_plus": s.a_plus, "b_minus": s.b_minus, "tau_stdp": s.tau_stdp},
            "note": SPIKE_ONCE_NOTE, "bias_weights": bias_weights}
    if omitted:
        warnings.warn(f"layers {omitted} have bias spikes after step 0, which NIR nodes cannot express: the graph's "
                      "nodes omit them (neuroplast's import restores them from the metadata)", NIRSemanticsWarning,
                      stacklevel=3)
    inhibited = [k for k, n in enumerate(net.winners) if n is not None]
    if inhibited:
        warnings.warn(f"layers {inhibited} let only their first `winners` spikes through (lateral inhibition), which "
                      "NIR nodes cannot express: the graph's nodes omit it (neuroplast's import restores it from the "
                      "metadata)", NIRSemanticsWarning, stacklevel=3)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: json.dumps(meta)})


# ------------------------------------------------------------------------------------------------- import ----


def _read_graph(source):
    import nir

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise NeuroplastError(f"NIR file {str(path)!r} not found")
        try:
            return nir.read(path)
        except Exception as exc:
            raise NeuroplastError(f"{str(path)!r} is not a readable NIR file ({type(exc).__name__}: {exc})") from None
    return source


def _metadata(graph) -> dict:
    raw = (graph.metadata or {}).get(META_KEY)
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(str(raw))


def import_nir(source, dt: float | None = None):
    """A neuroplast model from a NIR graph or file written by :func:`write_nir` (or shaped like one).

    ScSr graphs (LIF + LI, or CubaLIF) come back as :class:`~neuroplast.models.scsr.ScSrSNN` with the same
    per-neuron parameters; SSTDP graphs come back as a spike-once net only from neuroplast's metadata, with a
    :class:`NIRSemanticsWarning`; a bare IF graph is refused. ``dt`` overrides the step stored in the graph.
    """
    import nir

    graph = _read_graph(source)
    meta = _metadata(graph)
    dt = float(dt if dt is not None else meta.get("dt", DEFAULT_DT))
    kinds = {type(n) for n in graph.nodes.values()}
    if meta.get("method") == "sstdp":
        return _import_sstdp(graph, meta)
    if nir.IF in kinds:
        raise NeuroplastError(
            "this NIR graph has IF nodes but no neuroplast metadata: NIR's IF re-fires after reset, while "
            "neuroplast's IF neurons fire once (time-to-first-spike); importing it would change what it computes")
    return _import_scsr(graph, meta, dt)


def _node(graph, name: str):
    if name not in graph.nodes:
        raise NeuroplastError(f"NIR graph lacks node {name!r}; import_nir reads graphs shaped like neuroplast's "
                              "exports (nodes input, w1.., lif1.., output)")
    return graph.nodes[name]


def _steps(value, dt: float) -> np.ndarray:
    return np.asarray(value, dtype=np.float64) / dt


def _import_scsr(graph, meta: dict, dt: float):
    import nir

    from neuroplast.functional.lif import LIFOptions
    from neuroplast.functional.surrogate import Surrogate
    from neuroplast.models.scsr import ScSrSNN

    lifs = sorted((int(m.group(1)) for k in graph.nodes if (m := re.fullmatch(r"lif(\d+)", k))))
    if not lifs or lifs != list(range(1, len(lifs) + 1)):
        raise NeuroplastError("NIR graph has no neuroplast-shaped neuron nodes (lif1, lif2, ...); "
                              "import_nir reads graphs written by `neuroplast export`")
    n_layers = len(lifs) + 1
    weights = [np.asarray(_node(graph, f"w{k}").weight) for k in lifs]
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    dtype = weights[0].dtype
    neurons = [_node(graph, f"lif{k}") for k in lifs]
    form = "cubalif" if isinstance(neurons[0], nir.CubaLIF) else "lif"
    params = []
    for node in neurons:
        if not isinstance(node, (nir.LIF, nir.CubaLIF)):
            raise NeuroplastError(f"NIR neuron node of type {type(node).__name__} is not supported; LIF or CubaLIF")
        if not np.allclose(node.v_leak, 0) or not np.allclose(node.v_reset, 0):
            raise NeuroplastError("neuroplast LIF neurons have v_leak = 0 and reset to 0; this graph's differ")
        if isinstance(node, nir.CubaLIF) and not np.allclose(node.w_in, 1):
            raise NeuroplastError("CubaLIF w_in other than 1 is not supported on import")
        tau_mem = _steps(node.tau if isinstance(node, nir.LIF) else node.tau_mem, dt)
        params.append({"tau_mem": tau_mem, "gain": np.asarray(node.r, dtype=np.float64) / tau_mem,
                       "threshold": np.asarray(node.v_threshold, dtype=np.float64)})
    own_meta = meta.get("own_tau_syn")
    own = []
    for k in range(n_layers):
        if form == "lif" and f"trace{k}" in graph.nodes:
            own.append(_steps(graph.nodes[f"trace{k}"].tau, dt))
        elif form == "cubalif" and k + 1 < n_layers:
            own.append(np.full(sizes[k], _steps(neurons[k].tau_syn, dt).flat[0]))
        elif own_meta is not None:
            own.append(np.asarray(own_meta[k], dtype=np.float64))
        else:
            own.append(np.full(sizes[k], 8.0))
    skips = sorted((int(m.group(1)), int(m.group(2))) for k in graph.nodes
                   if (m := re.fullmatch(r"skip(\d+)_(\d+)", k)))
    recs = {k: np.asarray(graph.nodes[f"rec{k}"].weight) for k in lifs if f"rec{k}" in graph.nodes}
    hidden = list(range(1, n_layers - 1))
    if recs and set(recs) != set(hidden):
        raise NeuroplastError("neuroplast recurrence applies to every hidden layer alike; this graph's rec nodes "
                              f"sit on layers {sorted(recs)}, hidden layers are {hidden}")
    if not recs:
        recurrence = "none"
    elif all(np.array_equal(w, np.diag(np.diag(w))) for w in recs.values()):
        recurrence = "self"
    else:
        recurrence = "sparse" if meta.get("recurrence") == "sparse" else "all"
    feedback = meta.get("feedback", "trace")
    if form == "lif" and recs:
        back = {a for a, b in graph.edges if b == f"rec{hidden[0]}"}
        feedback = "spike" if back == {f"lif{hidden[0]}"} else "trace"
    in_tau = own[0]
    if not np.all(in_tau == in_tau.flat[0]):
        raise NeuroplastError("neuroplast's input trace has one time constant; this graph's input taus differ")
    opt = meta.get("options", {})
    options = LIFOptions(feedback=feedback,
                         surrogate=Surrogate(opt.get("surrogate", "fast_sigmoid"), opt.get("surrogate_width", 0.5)),
                         grad_method=opt.get("grad_method", "bptt"), truncation=int(opt.get("truncation", 0)))
    ranges = meta.get("ranges", {})
    trainable = meta.get("trainable", {})
    with _default_dtype(torch.float64 if dtype == np.float64 else torch.float32):
        model = ScSrSNN(sizes[0], sizes[1:-1], sizes[-1], recurrence=recurrence, skips=skips,
                        density=float(meta.get("density", 0.1)), input_tau_syn=float(in_tau.flat[0]),
                        tau_mem_range=tuple(ranges.get("tau_mem", (1.0, None))),
                        tau_syn_range=tuple(ranges.get("tau_syn", (1.0, None))),
                        options=options, **{f"train_{k}": bool(v) for k, v in trainable.items()})
    with torch.no_grad():
        for dst, layer in enumerate(model.layers, start=1):
            layer.weight.copy_(torch.from_numpy(weights[dst - 1]))
            for src, w in zip(model.skip_sources[dst], layer.skip_weight):
                w.copy_(torch.from_numpy(np.asarray(graph.nodes[f"skip{src}_{dst}"].weight)))
            if layer.recurrence == "self":
                layer.self_weight.copy_(torch.from_numpy(np.diag(recs[dst]).copy()))
            elif layer.recurrence in ("all", "sparse"):
                layer.recurrent_weight.copy_(torch.from_numpy(recs[dst]))
                if recurrence == "sparse":
                    layer.recurrent_mask.copy_(torch.from_numpy((recs[dst] != 0).astype(dtype)))
            values = dict(params[dst - 1], tau_syn=own[dst])
            for name, value in values.items():
                t = torch.as_tensor(value, dtype=layer.weight.dtype)
                layer.neurons._init[name] = t
                getattr(layer.neurons, f"{name}_raw").copy_(layer.neurons._to_raw(name, t))
    return model


def _import_sstdp(graph, meta: dict):
    from neuroplast.learning.sstdp import IFSpec
    from neuroplast.models.sstdp import SSTDPNet

    warnings.warn("NIR cannot express spike-once / time-to-first-spike semantics; the SSTDP net is rebuilt from "
                  "neuroplast's metadata in the graph, not from its NIR nodes' meaning", NIRSemanticsWarning,
                  stacklevel=3)
    net = SSTDPNet(tuple(meta["input_shape"]), meta["layers"], IFSpec(**meta["spec"]))
    with torch.no_grad():
        for k, layer in enumerate(net.layers):
            key = f"conv{k}" if f"conv{k}" in graph.nodes else f"fc{k}"
            if key not in graph.nodes:
                continue
            w = torch.from_numpy(np.asarray(graph.nodes[key].weight).reshape(layer.n_out, layer.n_in))
            bias = meta.get("bias_weights", {}).get(str(k))
            if bias is not None:
                w = torch.cat([w, torch.tensor(bias, dtype=w.dtype)], dim=1)
            layer.weight.data = w.clone()
    return net


class _default_dtype:
    """Build modules in the graph's float type so a float64 export comes back as float64."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __enter__(self):
        self.saved = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc):
        torch.set_default_dtype(self.saved)


# ------------------------------------------------------------------------------------------- result folders ----


def load_result_model(result_dir):
    """``(cfg, task, model)`` rebuilt from a result folder's checkpoint, without loading its dataset."""
    from neuroplast.train.checkpoint import checkpoint_config, load_checkpoint, load_states, result_state

    result_dir = Path(result_dir)
    path = result_dir / "checkpoint.pt"
    ckpt = load_checkpoint(path)
    cfg = checkpoint_config(ckpt, path)
    state = result_state(ckpt)
    if cfg.method == "scsr":
        from neuroplast.train.scsr_task import ScSrTask

        task = ScSrTask(cfg)
        task.n_in = int(state["layers.0.weight"].shape[1])
        task.n_classes = int(state[f"layers.{len(cfg.model.hidden)}.weight"].shape[0])
    else:
        from neuroplast.train.sstdp_task import SSTDPTask

        task = SSTDPTask(cfg)
        shape = None
        metrics = result_dir / "metrics.json"
        if metrics.is_file():
            shape = json.loads(metrics.read_text()).get("input_shape")
        if shape is None:
            if cfg.model.layers[0].get("type", "linear") != "linear":
                raise NeuroplastError(f"{result_dir} lacks metrics.json with input_shape, needed for a conv net")
            shape = [int(state["layers.0.weight"].shape[1])]
        task.input_shape = tuple(shape)
        last = max(k for k, item in enumerate(cfg.model.layers) if item.get("type", "linear") != "pool")
        task.n_classes = int(state[f"layers.{last}.weight"].shape[0])
    model = task.build_model()
    load_states(ckpt, path, model)
    model.eval()
    return cfg, task, model


def export_result(result_dir, out=None, dt: float = DEFAULT_DT, form: str = "auto") -> Path:
    """Write a result folder's trained model as ``model.nir`` (or ``out``)."""
    result_dir = Path(result_dir)
    cfg, _, model = load_result_model(result_dir)
    out = Path(out) if out else result_dir / "model.nir"
    return write_nir(model, out, dt=dt, form=form, metadata={"name": cfg.name, "dataset": cfg.data.dataset})

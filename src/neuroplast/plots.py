"""Pictures of a run, written as PNG (headless matplotlib backend).

Each picture is a function of plain arrays or a model, so tests can draw it from tiny inputs; :func:`plot_result`
picks the ones a result folder supports. Pictures that need the dataset (confusion matrix, a sample through the
network, the speech front end) are skipped with a note when the data is not on disk.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neuroplast.errors import NeuroplastError  # noqa: E402


def training_curves(history: list[dict], path: Path, title: str = "", selected: int | None = None):
    """Train/validation/test accuracy (strict and lenient) and train loss per epoch; ``selected`` marks the epoch a
    best-of-validation run reports, where that is not the last one."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, style in (("train_accuracy", "C0-"), ("val_accuracy", "C3-"), ("test_test_accuracy", "C1-"),
                       ("test_accuracy", "C1-"), ("test_lenient_accuracy", "C1:")):
        pts = [(e, h[key]) for e, h in zip(epochs, history) if key in h]
        if pts:
            label = key.replace("test_test_", "test_").replace("_", " ")
            ax_acc.plot(*zip(*pts), style, label=label + (" (strict)" if key.endswith("_accuracy") and
                                                          "lenient" not in key else ""))
    if selected is not None and epochs and selected != epochs[-1]:
        ax_acc.axvline(selected, color="0.4", ls="--", lw=0.8, label=f"selected epoch {selected}")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend(fontsize=8)
    ax_acc.grid(alpha=0.3)
    losses = [(e, h["train_loss"]) for e, h in zip(epochs, history) if "train_loss" in h]
    if losses:
        ax_loss.semilogy(*zip(*losses), "C2-")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("train loss")
    ax_loss.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _save(fig, path: Path, dpi: int = 110) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


def spike_raster(layers: dict[str, np.ndarray], path: Path, title: str = "", step_label: str = "time step") -> Path:
    """One panel per layer: a dot per spike. ``layers``: name -> spikes ``(T, N)`` (0/1)."""
    fig, axes = plt.subplots(len(layers), 1, figsize=(9, 1.2 + 1.6 * len(layers)), sharex=True, squeeze=False)
    for ax, (name, spikes) in zip(axes[:, 0], layers.items()):
        t, n = np.nonzero(np.asarray(spikes))
        ax.scatter(t, n, s=1.5, c="k", marker="|", linewidths=0.6)
        ax.set_ylabel(f"{name}\nneuron", fontsize=8)
        ax.set_ylim(-0.5, max(np.asarray(spikes).shape[1] - 0.5, 0.5))
        ax.set_xlim(-0.5, np.asarray(spikes).shape[0] - 0.5)
        ax.text(1.0, 1.0, f"{len(t)} spikes", transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
    axes[-1, 0].set_xlabel(step_label)
    fig.suptitle(title)
    return _save(fig, path)


def spike_time_raster(times: dict[str, np.ndarray], t_max: int, path: Path, title: str = "",
                      steps: int | None = None) -> Path:
    """Time-to-first-spike networks: one dot per neuron at its spike time; times from ``steps`` (the simulated
    window, default ``t_max``) on never arrive and are not drawn."""
    steps = t_max if steps is None else steps
    layers = {}
    for name, t in times.items():
        t = np.asarray(t).reshape(-1)
        grid = np.zeros((t_max, t.size), dtype=np.uint8)
        fired = np.nonzero((t >= 0) & (t < steps))[0]
        grid[t[fired].astype(int), fired] = 1
        layers[name] = grid
    return spike_raster(layers, path, title, step_label="time step (spike-once: one dot per firing neuron)")


def membrane_traces(traces: dict[str, np.ndarray], thresholds: dict[str, np.ndarray], path: Path,
                    title: str = "") -> Path:
    """A few neurons' membrane potential per layer, with their thresholds. ``traces``: name -> ``(T, k)``."""
    fig, axes = plt.subplots(len(traces), 1, figsize=(9, 1.4 + 1.8 * len(traces)), sharex=True, squeeze=False)
    for ax, (name, v) in zip(axes[:, 0], traces.items()):
        v = np.asarray(v)
        thr = np.broadcast_to(np.asarray(thresholds[name], dtype=float), (v.shape[1],))
        for k in range(v.shape[1]):
            line, = ax.plot(v[:, k], lw=0.8)
            ax.axhline(thr[k], color=line.get_color(), ls=":", lw=0.7)
        ax.set_ylabel(f"{name}\nmembrane", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time step (dotted: thresholds)")
    fig.suptitle(title)
    return _save(fig, path)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, path: Path, title: str = "",
                     labels: list[str] | None = None) -> Path:
    """Rows: true class; columns: predicted class, plus "none" (ties or silence, counted as errors)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    m = np.zeros((n_classes, n_classes + 1), dtype=int)
    np.add.at(m, (y_true, np.where(y_pred < 0, n_classes, y_pred)), 1)
    labels = labels or [str(k) for k in range(n_classes)]
    fig, ax = plt.subplots(figsize=(1.6 + 0.45 * (n_classes + 1), 1.2 + 0.45 * n_classes))
    rates = m / np.maximum(m.sum(1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n_classes):
        for j in range(n_classes + 1):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(n_classes + 1), labels + ["none"], fontsize=8)
    ax.set_yticks(range(n_classes), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(m[:, :n_classes]) / max(m.sum(), 1)
    ax.set_title(f"{title}  strict accuracy {acc:.3f}".strip(), fontsize=9)
    return _save(fig, path)


def intrinsic_distributions(model, path: Path, title: str = "") -> Path:
    """BIP: per-layer histograms of the learned tau_mem, tau_syn, threshold V_th and gain R (ScSr models)."""
    from neuroplast.neurons import INTRINSIC_NAMES

    names = model.layer_names()[1:]
    labels = {"tau_mem": "tau_m (steps)", "tau_syn": "tau_s (steps)", "threshold": "V_th", "gain": "R (gain)"}
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    for ax, pname in zip(axes, INTRINSIC_NAMES):
        trained = False
        for name, layer in zip(names, model.layers):
            values = getattr(layer.neurons, pname).detach().cpu().numpy()
            trained |= bool(getattr(layer.neurons, f"{pname}_raw").requires_grad)
            ax.hist(values, bins=30, histtype="step", label=name, lw=1.2)
        ax.set_xlabel(labels[pname])
        ax.set_title("trained (BIP)" if trained else "fixed", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("neurons")
    axes[-1].legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def receptive_fields(weight: np.ndarray, input_shape: tuple[int, ...], path: Path, title: str = "",
                     max_neurons: int = 64, onoff: bool = False, unit: str = "neurons") -> Path:
    """First-layer weights of each neuron reshaped to the input image (first channel), in a grid. With ``onoff``
    (the second half of the channels holds the negatives) a field is its first ON channel minus the matching OFF
    one: a neuron's preference for light over dark, which the ON half alone would hide. ``unit`` names what a
    field belongs to in the title (a conv layer's fields are its filters)."""
    weight = np.asarray(weight)
    n = min(len(weight), max_neurons)
    shape = tuple(input_shape)
    images = weight[:n].reshape(n, *shape)
    if images.ndim == 4:
        images = images[:, 0] - images[:, images.shape[1] // 2] if onoff else images[:, 0]
    cols = math.ceil(math.sqrt(n * images.shape[1] / images.shape[2])) if images.shape[2] else 1
    cols = max(1, min(n, cols))
    rows = math.ceil(n / cols)
    aspect = images.shape[2] / images.shape[1]
    fig, axes = plt.subplots(rows, cols, figsize=(min(14, 1.1 * cols * aspect + 0.5), 1.1 * rows + 0.6),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap="viridis", interpolation="nearest")
    fig.suptitle(f"{title} first-layer receptive fields ({n} of {len(weight)} {unit})".strip(), fontsize=10)
    return _save(fig, path, dpi=80)


def speech_frontend(analog: np.ndarray, spikes: np.ndarray, path: Path, title: str = "",
                    analog_label: str = "cochleagram (Lyon passive ear)", step_seconds: float | None = None) -> Path:
    """The speech front end of one utterance: analog channels over frames, and the spikes they become."""
    fig, (ax_a, ax_s) = plt.subplots(2, 1, figsize=(9, 6))
    ax_a.imshow(np.asarray(analog).T, aspect="auto", origin="lower", cmap="magma", interpolation="nearest")
    ax_a.set_ylabel("channel")
    ax_a.set_xlabel("frame")
    ax_a.set_title(analog_label, fontsize=9)
    t, c = np.nonzero(np.asarray(spikes))
    ax_s.scatter(t, c, s=1, c="k", marker="|", linewidths=0.5)
    ax_s.set_xlim(0, np.asarray(spikes).shape[0])
    ax_s.set_ylim(-0.5, np.asarray(spikes).shape[1] - 0.5)
    ax_s.set_ylabel("channel")
    unit = f" ({step_seconds * 1e3:.1f} ms each)" if step_seconds else ""
    ax_s.set_xlabel(f"time step{unit}")
    ax_s.set_title(f"spikes ({len(t)} in all)", fontsize=9)
    fig.suptitle(title)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ result folders ----


def _predict(cfg, model, task, x, batch_size: int = 500) -> np.ndarray:
    """Strict decisions per sample; -1 where outputs tie or stay silent."""
    import torch

    preds = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out = model(task.inputs(x[start:start + batch_size]))
            if cfg.method == "sstdp":
                t = out
                first = t.min(dim=1).values
                unique = (t == first[:, None]).sum(1) == 1
                ok = unique & (first < cfg.model.t_max)
                preds.append(torch.where(ok, t.argmin(1), -1))
            else:
                counts = out[0].sum(0)
                top = counts.max(dim=1).values
                unique = (counts == top[:, None]).sum(1) == 1
                preds.append(torch.where(unique & (top > 0), counts.argmax(1), -1))
    return torch.cat(preds).cpu().numpy()


def _sstdp_sample_pictures(cfg, model, task, x, result_dir: Path, name: str) -> list[Path]:
    import torch

    from neuroplast.models.sstdp import SpikeOnceConv2d

    with torch.no_grad():
        model(task.inputs(x[:1]))
    t_max = cfg.model.t_max
    layers = model.if_layers()
    times = {"input": model.record[0][0][0].numpy()}
    for k, (_, t_out) in enumerate(model.record):
        times["output" if k == len(model.record) - 1 else f"layer{k + 1}"] = t_out[0].numpy()
    steps = layers[0].spec.steps
    out = [spike_time_raster(times, t_max, result_dir / "spike_raster.png", f"{name}: one test sample", steps)]
    traces, thresholds = {}, {}
    for k, (layer, (t_in, t_out)) in enumerate(zip(layers, model.record)):
        if isinstance(layer, SpikeOnceConv2d):
            continue
        t_in, t_out = t_in[0].reshape(-1), t_out[0].reshape(-1)
        arrive = torch.zeros(t_max, t_in.numel(), dtype=layer.weight.dtype)
        ok = (t_in >= 0) & (t_in < steps)
        arrive[t_in[ok].long(), torch.nonzero(ok)[:, 0]] = 1.0
        drive = arrive @ layer.weight.detach().T
        if layer.spec.tau_leak is None:
            v = drive.cumsum(0)
        else:
            v = torch.zeros_like(drive)
            acc = torch.zeros(drive.shape[1], dtype=drive.dtype)
            for t in range(t_max):
                acc = acc + (drive[t] - acc) / layer.spec.tau_leak
                v[t] = acc
        pick = torch.argsort(t_out)[: min(5, t_out.numel())]
        v = v[:, pick].numpy().copy()
        for j, neuron in enumerate(pick.tolist()):
            if t_out[neuron] < t_max:
                v[int(t_out[neuron]) + 1:, j] = np.nan
        label = "output" if k == len(layers) - 1 else f"layer{k + 1}"
        traces[f"{label} (earliest {len(pick)})"] = v
        thresholds[f"{label} (earliest {len(pick)})"] = np.full(len(pick), layer.spec.theta)
    if traces:
        out.append(membrane_traces(traces, thresholds, result_dir / "membrane_traces.png",
                                   f"{name}: IF membranes of one test sample (fire once, then stop)"))
    return out


def _scsr_sample_pictures(model, task, x, result_dir: Path, name: str) -> list[Path]:
    rec = model.record(task.inputs(x[:1]))
    spikes = {k: v[:, 0].numpy() for k, v in rec["spikes"].items()}
    out = [spike_raster(spikes, result_dir / "spike_raster.png", f"{name}: one test utterance")]
    traces, thresholds = {}, {}
    for layer_name, layer in zip(model.layer_names()[1:], model.layers):
        mem = rec["membrane"][layer_name][:, 0]
        pick = np.argsort(-spikes[layer_name].sum(0))[:4]
        traces[layer_name] = mem[:, pick].numpy()
        thresholds[layer_name] = layer.neurons.threshold.detach()[pick].numpy()
    out.append(membrane_traces(traces, thresholds, result_dir / "membrane_traces.png",
                               f"{name}: membranes before reset, most active neurons"))
    return out


def _speech_picture(cfg, task, result_dir: Path, name: str) -> Path:
    from neuroplast.data.audio import read_audio
    from neuroplast.data.fsdd import list_fsdd, split_fsdd
    from neuroplast.train.scsr_task import make_encoder

    item = split_fsdd(list_fsdd(cfg.data.root), task.split, "test")[0]
    encoder = make_encoder(task.frontend, task.frontend_options)
    signal, rate = read_audio(item.path)
    spikes = encoder.encode(signal, rate)
    if hasattr(encoder, "cochleagram"):
        analog, label = encoder.cochleagram(signal, rate), "cochleagram (Lyon passive ear)"
    else:
        analog, label = encoder.features(signal, rate), "front-end features"
    return speech_frontend(analog, spikes, result_dir / "speech_frontend.png",
                           f"{name}: '{item.label}' by {item.speaker} ({Path(item.path).name})", label,
                           getattr(encoder, "step_seconds", None))



# Pictures drawn from a checkpoint: a rerun into the same folder redraws them, so none shows an older model.
CHECKPOINT_PLOTS = ("receptive_fields.png", "intrinsic_parameters.png", "confusion_matrix.png", "spike_raster.png",
                    "membrane_traces.png", "speech_frontend.png")


def plot_result(result_dir: Path, data: bool = True, log=print) -> list[Path]:
    """All pictures a result folder supports, as PNG in the folder; returns their paths.

    Training curves come from ``metrics.jsonl``; the rest from ``checkpoint.pt``: receptive fields (SSTDP) or
    intrinsic-parameter distributions (ScSr); with ``data`` and the dataset on disk also the confusion matrix,
    a sample's spike raster and membrane traces, and the speech front end (ScSr). Missing data is a note, not an error.
    """
    result_dir = Path(result_dir)
    log_path = result_dir / "metrics.jsonl"
    if not log_path.is_file():
        raise NeuroplastError(f"{log_path} not found; is {result_dir} a neuroplast result folder?")
    history = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    out = result_dir / "training_curves.png"
    metrics = result_dir / "metrics.json"
    selected = json.loads(metrics.read_text()).get("selected_epoch") if metrics.is_file() else None
    training_curves(history, out, title=result_dir.name, selected=selected)
    paths = [out]
    if not (result_dir / "checkpoint.pt").is_file():
        return paths
    from neuroplast.export.nir_export import load_result_model

    cfg, task, model = load_result_model(result_dir)
    name = cfg.name
    if cfg.method == "sstdp":
        first = model.if_layers()[0]
        weight = first.weight.detach().cpu().numpy()
        shape, conv = model.input_shape, hasattr(first, "c_in")
        if conv:
            shape = (first.c_in, first.kernel_size, first.kernel_size)
        elif (result_dir / "metrics.json").is_file():
            shape = tuple(json.loads((result_dir / "metrics.json").read_text()).get("input_shape", shape))
        onoff = bool(cfg.data.options.get("onoff")) and not conv
        paths.append(receptive_fields(weight, shape, result_dir / "receptive_fields.png",
                                      name + (" (ON - OFF)" if onoff else ""), onoff=onoff,
                                      unit="filters" if conv else "neurons"))
    else:
        paths.append(intrinsic_distributions(model, result_dir / "intrinsic_parameters.png",
                                             f"{name}: intrinsic parameters per neuron"))
    if not data:
        return paths
    try:
        _, (x_test, y_test) = task.load_data(train=False)
    except NeuroplastError as exc:
        log(f"note: skipping the pictures that need the test data ({exc})")
        return paths
    y_pred = _predict(cfg, model, task, x_test)
    n_classes = int(max(int(y_test.max()) + 1, model.output_shape[0] if cfg.method == "sstdp" else model.sizes[-1]))
    paths.append(confusion_matrix(y_test.numpy(), y_pred, n_classes, result_dir / "confusion_matrix.png",
                                  f"{name} ({task.data_used} test)"))
    if cfg.method == "sstdp":
        paths += _sstdp_sample_pictures(cfg, model, task, x_test, result_dir, name)
    else:
        paths += _scsr_sample_pictures(model, task, x_test, result_dir, name)
        try:
            paths.append(_speech_picture(cfg, task, result_dir, name))
        except NeuroplastError as exc:
            log(f"note: skipping the speech front-end picture ({exc})")
    return paths

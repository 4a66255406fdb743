"""Pictures of a run, written as PNG (headless matplotlib backend)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neuroplast.errors import NeuroplastError  # noqa: E402


def training_curves(history: list[dict], path: Path, title: str = ""):
    """Train/test accuracy (strict and lenient) and train loss per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, style in (("train_accuracy", "C0-"), ("test_test_accuracy", "C1-"), ("test_accuracy", "C1-"),
                       ("test_lenient_accuracy", "C1:")):
        pts = [(e, h[key]) for e, h in zip(epochs, history) if key in h]
        if pts:
            label = key.replace("test_test_", "test_").replace("_", " ")
            ax_acc.plot(*zip(*pts), style, label=label + (" (strict)" if key.endswith("_accuracy") and
                                                          "lenient" not in key else ""))
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


def plot_result(result_dir: Path) -> list[Path]:
    """All pictures a result folder supports (for now: training curves from ``metrics.jsonl``)."""
    result_dir = Path(result_dir)
    log = result_dir / "metrics.jsonl"
    if not log.is_file():
        raise NeuroplastError(f"{log} not found; is {result_dir} a neuroplast result folder?")
    history = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    out = result_dir / "training_curves.png"
    training_curves(history, out, title=result_dir.name)
    return [out]

"""A committee of trained SSTDP networks read out as one spiking network (``neuroplast vote``).

Networks trained alike from different seeds make partly different errors; a class of the committee fires when
``k`` of its members' output neurons for that class have fired (:func:`neuroplast.functional.ttfs.vote_times`,
one more spike-once IF layer). The committee is scored like any SSTDP result: strict accuracy (ties and silence
are errors), mean output time, additions per inference (the members' plus one per member output spike that
reaches the vote layer). Its folder holds ``committee.json`` (the members, as paths relative to the folder, and
``k``) and ``metrics.json``; the members keep their own checkpoints, so ``neuroplast eval`` recomputes it.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import torch

from neuroplast.errors import NeuroplastError
from neuroplast.functional.ttfs import vote_times
from neuroplast.learning.sstdp import lenient_correct, strict_correct
from neuroplast.train.checkpoint import atomic_write_bytes

COMMITTEE_FILE = "committee.json"


def _retrain_into(command: str, folder: Path) -> str:
    """A member's recorded training command, writing into the member's folder (it may have been trained elsewhere
    and copied in)."""
    words = shlex.split(command)
    kept = [w for i, w in enumerate(words) if w != "--out" and (i == 0 or words[i - 1] != "--out")]
    kept = [w for w in kept if w != "--force"]
    return shlex.join(kept + ["--out", os.path.normpath(folder)])


def _load_member(folder: Path):
    from neuroplast.export.nir_export import load_result_model

    if not (folder / "checkpoint.pt").is_file():
        retrain = ""
        try:
            command = json.loads((folder / "metrics.json").read_text()).get("command")
        except (OSError, ValueError, AttributeError):
            command = None
        if isinstance(command, str) and command.startswith("neuroplast train "):
            retrain = f"; retrain it with `{_retrain_into(command, folder)}`"
        raise NeuroplastError(f"committee member {os.path.normpath(folder)!r} has no checkpoint.pt{retrain}")
    cfg, task, model = load_result_model(folder)
    if cfg.method != "sstdp":
        raise NeuroplastError(f"committee member {str(folder)!r} is a {cfg.method!r} run; a vote needs SSTDP runs")
    return cfg, task, model


def member_outputs(members: list[Path], batch_size: int = 1000):
    """``(times (M, B, C), labels, t_max, per-member additions per inference, data_used)`` on the test split.

    Every member must read the same test set the same way (dataset and data options) and share ``t_max`` and the
    number of classes, or their spike times would not be comparable; a mismatch names the member."""
    loaded = [(_load_member(folder), folder) for folder in members]
    (cfg0, task0, _), first = loaded[0]
    for (cfg, task, _), folder in loaded[1:]:
        for what, mine, theirs in (("data", cfg.data.model_dump(), cfg0.data.model_dump()),
                                   ("model.t_max", cfg.model.t_max, cfg0.model.t_max),
                                   ("classes", task.n_classes, task0.n_classes)):
            if mine != theirs:
                raise NeuroplastError(f"committee member {str(folder)!r} differs from {str(first)!r} in {what} "
                                      f"({mine!r} against {theirs!r}); a vote needs members trained on the same "
                                      "inputs")
    _, (x_test, y_test) = task0.load_data(train=False)
    times, additions = [], []
    with torch.no_grad():
        for (_, task, model), _ in loaded:
            model.eval()
            outs, adds = [], 0.0
            for start in range(0, len(x_test), batch_size):
                xb = x_test[start:start + batch_size]
                outs.append(model(task.inputs(xb)))
                adds += sum(model.additions()) * len(xb)
            times.append(torch.cat(outs))
            additions.append(adds / len(x_test))
    return torch.stack(times), y_test, cfg0.model.t_max, additions, task0.data_used


def vote_metrics(times: torch.Tensor, y: torch.Tensor, t_max: int, k: int) -> dict:
    """The vote of members' output ``times`` (M, B, C) with ``k`` votes, scored against labels ``y``: strict and
    lenient accuracy, mean output time, and the vote layer's additions (one per member output spike)."""
    vote = vote_times(times, k, t_max)
    return {
        "test_accuracy": strict_correct(vote, y, t_max).double().mean().item(),
        "lenient_accuracy": lenient_correct(vote, y).double().mean().item(),
        "mean_output_time": vote.min(dim=1).values.double().mean().item(),
        "additions_vote_layer": (times < t_max).sum(dim=(0, 2)).double().mean().item(),
    }


def score(members: list[Path], k: int | None = None) -> dict:
    """The committee's test metrics, with each member's strict accuracy beside them."""
    if len(members) < 2:
        raise NeuroplastError(f"a committee needs at least 2 member result folders, got {len(members)}")
    k = len(members) // 2 + 1 if k is None else k
    if not 1 <= k <= len(members):
        raise NeuroplastError(f"--k must be in [1, {len(members)}] for {len(members)} members, got {k}")
    start = time.perf_counter()
    times, y, t_max, additions, data_used = member_outputs(members)
    readout = vote_metrics(times, y, t_max, k)
    return {
        "dataset": data_used,
        "test_accuracy": readout["test_accuracy"],
        "lenient_accuracy": readout["lenient_accuracy"],
        "mean_output_time": readout["mean_output_time"],
        "additions_per_inference": sum(additions) + readout["additions_vote_layer"],
        "additions_vote_layer": readout["additions_vote_layer"],
        "k": k,
        "member_test_accuracy": [strict_correct(t, y, t_max).double().mean().item() for t in times],
        "member_additions_per_inference": additions,
        "seconds": round(time.perf_counter() - start, 2),
        "metric_note": "test_accuracy is strict: ties and all-silent outputs count as errors; a class fires when "
                       "k of its members' output neurons have fired",
    }


def vote(members: list[str], out: str, k: int | None = None, force: bool = False, command: str | None = None):
    """Score a committee and write its folder; an existing committee or run there is kept unless ``force``."""
    out_dir = Path(out)
    if (out_dir / "checkpoint.pt").exists():
        raise NeuroplastError(f"{str(out_dir)!r} holds a trained run (checkpoint.pt), which a committee would "
                              "overwrite even with --force; give the committee its own --out folder")
    if not force and ((out_dir / "metrics.json").is_file() or (out_dir / COMMITTEE_FILE).is_file()):
        raise NeuroplastError(f"{str(out_dir)!r} already holds a result; pass --force to replace it or choose "
                              "another --out")
    folders = [Path(m) for m in members]
    metrics = score(folders, k)
    out_dir.mkdir(parents=True, exist_ok=True)
    relative = [os.path.relpath(f.resolve(), out_dir.resolve()) for f in folders]
    spec = {"members": relative, "k": metrics["k"]}
    metrics = {"name": out_dir.name, "method": "sstdp-committee", **metrics, "members": relative,
               "command": command or f"neuroplast vote {' '.join(members)} --k {metrics['k']} --out {out}"}
    atomic_write_bytes(out_dir / COMMITTEE_FILE, (json.dumps(spec, indent=2) + "\n").encode())
    atomic_write_bytes(out_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    return metrics


def is_committee(result_dir: Path) -> bool:
    return (Path(result_dir) / COMMITTEE_FILE).is_file()


def evaluate_committee(result_dir: Path) -> dict:
    """``neuroplast eval`` of a committee folder: its members reloaded and the vote recomputed."""
    result_dir = Path(result_dir)
    try:
        spec = json.loads((result_dir / COMMITTEE_FILE).read_text())
        members, k = [result_dir / m for m in spec["members"]], int(spec["k"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NeuroplastError(f"{result_dir / COMMITTEE_FILE} is unreadable ({exc}); write it again with "
                              "`neuroplast vote MEMBER_DIR ... --out DIR --force`") from exc
    return {"name": result_dir.name, **score(members, k)}

"""The training loop: config -> data -> encoder -> model -> loss -> step, with eval, checkpoints and resume.

One readable loop; a method contributes a task object (model, input encoding, loss, metrics, epoch hook).
Checkpoints are written atomically after every epoch with the RNG states, and every epoch's shuffle comes
from its own seeded generator, so a killed run resumed from its last checkpoint ends exactly where an
uninterrupted run would.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from neuroplast.config import RunConfig, dump_config
from neuroplast.data.holdout import hold_out
from neuroplast.errors import NeuroplastError
from neuroplast.train import distributed
from neuroplast.train.averaging import WeightAverage
from neuroplast.train.checkpoint import (atomic_write_bytes, checkpoint_config, load_checkpoint, load_states,
                                         rng_state, save_checkpoint, set_rng_state)
from neuroplast.train.distributed import Context
from neuroplast.train.progress import MetricsLog
from neuroplast.train.progress import progress as progress_lines


def make_task(cfg: RunConfig):
    if cfg.method == "sstdp":
        from neuroplast.train.sstdp_task import SSTDPTask

        return SSTDPTask(cfg)
    if cfg.method == "scsr":
        from neuroplast.train.scsr_task import ScSrTask

        return ScSrTask(cfg)
    raise NeuroplastError(f"unknown method {cfg.method!r}")


def set_threads(n: int | None):
    if n:
        torch.set_num_threads(n)
        try:
            import numba

            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        except ImportError:
            pass


def log(msg: str):
    print(msg, file=sys.stderr, flush=True)


def evaluate(task, model, x, y, batch_size=1000, progress=False, dist=None):
    """Test metrics over a whole split (no gradients); with ``dist`` each rank takes a slice and sums are added."""
    dist = dist or Context()
    idx = dist.shard(torch.arange(len(x)))
    lo, hi = (int(idx[0]), int(idx[-1]) + 1) if len(idx) else (0, 0)
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        starts = range(lo, hi, batch_size)
        for start in progress_lines(starts, desc="eval", enabled=progress and dist.is_main):
            end = min(start + batch_size, hi)
            xb, yb = task.inputs(x[start:end]), y[start:end]
            for k, v in task.batch_stats(model, model(xb), yb).items():
                sums[k] = sums.get(k, 0.0) + v
    model.train()
    return task.summarise(dist.reduce_sums(sums), len(x))


def check_finite(model, where: str):
    """A diverged run (NaN or inf weights) stops before its checkpoint replaces the last good one."""
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise NeuroplastError(f"training diverged: parameter {name!r} holds NaN or inf {where}; the last good "
                                  "checkpoint is kept; lower the learning rate or enable clipping")


def train(cfg: RunConfig, resume_from: Path | None = None, command: str | None = None) -> dict:
    """Run (or resume) a training job; returns the final metrics written to ``metrics.json``.

    Started as one of several ranks (torchrun, or ``launch``), it trains data-parallel: see ``distributed``.
    """
    joined = distributed.initialized()
    dist = distributed.setup()
    try:
        return _train(cfg, dist, resume_from, command)
    finally:
        if dist.active and not joined:
            distributed.teardown()


def _train(cfg: RunConfig, dist: Context, resume_from: Path | None, command: str | None) -> dict:
    set_threads(cfg.train.threads)
    out = cfg.out_dir()
    main = dist.is_main
    say = log if main else (lambda msg: None)
    task = make_task(cfg)
    torch.manual_seed(cfg.seed)
    if not main:
        dist.barrier()  # rank 0 decodes and encodes first, filling the caches; the other ranks then read them
    (x_train, y_train), (x_test, y_test) = task.load_data()
    if main:
        dist.barrier()
    x_val = y_val = None
    if cfg.data.validation:
        train_idx, val_idx = hold_out(y_train, cfg.data.validation, cfg.data.validation_fold)
        x_val, y_val, x_train, y_train = x_train[val_idx], y_train[val_idx], x_train[train_idx], y_train[train_idx]
    model = task.build_model()
    task.init_from_data(model, x_train)
    dist.broadcast_parameters(model)
    optimizer = task.optimizer(model)
    average = WeightAverage(model, cfg.train.average) if cfg.train.average else None
    after_step = average.update if average is not None else None
    history, start_epoch, seconds, selected = [], 0, 0.0, None
    # Nothing is written before data and model are known good, so a bad input leaves the folder as it was.
    if resume_from is not None:
        ckpt = load_checkpoint(resume_from)
        load_states(ckpt, resume_from, model, optimizer)
        # Checked once the checkpoint is known good, so a damaged one is still reported as such. A run killed
        # between its last checkpoint and metrics.json is not complete: resuming it writes its final metrics.
        if ckpt["epoch"] + 1 >= cfg.learning.epochs and (out / "metrics.json").is_file():
            raise NeuroplastError(f"nothing to resume: the run in {str(out)!r} is complete (epoch {ckpt['epoch'] + 1}/"
                                  f"{cfg.learning.epochs}); to train longer, start a new run: `neuroplast train "
                                  f"{out / 'config.yaml'} --set learning.epochs=N --out NEW_DIR`")
        if average is not None:
            average.load(ckpt.get("average"), f"checkpoint {str(resume_from)!r}")
        set_rng_state(ckpt["rng"])
        history, start_epoch, seconds = ckpt["history"], ckpt["epoch"] + 1, ckpt["seconds"]
        selected = ckpt.get("selected")
        say(f"neuroplast: resuming {cfg.name} after epoch {ckpt['epoch'] + 1}/{cfg.learning.epochs}")
    metrics_log = MetricsLog(out) if main else None
    if main and resume_from is not None:
        # metrics.jsonl may hold lines of epochs run after the checkpoint (killed before it was saved): the
        # checkpoint's history is the truth, so the log restarts from it and the resumed epochs append once.
        metrics_log.restart(history)
    elif main:
        out.mkdir(parents=True, exist_ok=True)
        # A fresh run replaces an old one (--force): a stale checkpoint left here would be resumed by mistake.
        for stale in ("metrics.jsonl", "metrics.csv", "checkpoint.pt", "metrics.json"):
            (out / stale).unlink(missing_ok=True)
        atomic_write_bytes(out / "config.yaml", dump_config(cfg).encode())
    if dist.active:
        say(f"neuroplast: data-parallel on {dist.world} processes, global batch {cfg.learning.batch_size}")
    command = command or "neuroplast " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    n = len(x_train)
    try:
        for epoch in range(start_epoch, cfg.learning.epochs):
            tic = time.perf_counter()
            sums = train_epoch(cfg, task, model, optimizer, x_train, y_train, epoch, dist=dist,
                               progress=cfg.train.progress and main, after_step=after_step)
            check_finite(model, f"after epoch {epoch + 1}")
            record = {"epoch": epoch + 1, **{f"train_{k}": v for k, v in task.summarise(sums, n).items()}}
            last = epoch + 1 == cfg.learning.epochs
            if (epoch + 1) % cfg.train.eval_every == 0 or last:
                # With train.average the averaged weights are what is evaluated and kept.
                with average.applied(model) if average is not None else nullcontext():
                    if x_val is not None:
                        record.update({f"val_{k}": v
                                       for k, v in evaluate(task, model, x_val, y_val, dist=dist).items()})
                    record.update({f"test_{k}": v for k, v in evaluate(task, model, x_test, y_test,
                                                                       progress=cfg.train.progress, dist=dist).items()})
                    # Taken before epoch_end changes the model (dead-neuron re-init): the state that was evaluated.
                    if cfg.train.keep == "best" and (selected is None
                                                     or record["val_accuracy"] > selected["val_accuracy"]):
                        selected = {"epoch": epoch + 1, "val_accuracy": record["val_accuracy"],
                                    "model": {k: v.detach().clone() for k, v in model.state_dict().items()}}
            if not last:
                record.update(task.epoch_end(model, sums, n))
                dist.broadcast_parameters(model)
            seconds += time.perf_counter() - tic
            record["seconds"] = round(seconds, 2)
            history.append(record)
            if main:
                metrics_log.write(record, history)
                log("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
                save_checkpoint(out / "checkpoint.pt", model=model.state_dict(), optimizer=optimizer.state_dict(),
                                rng=rng_state(), history=history, epoch=epoch, seconds=seconds,
                                config=cfg.model_dump(mode="json"), data_used=task.data_used, selected=selected,
                                average=average.state if average is not None else None)
            if cfg.train.stop_after and epoch + 1 >= cfg.train.stop_after and not last:
                say(f"neuroplast: stopped after epoch {epoch + 1} (train.stop_after); "
                    f"`neuroplast resume {out}` continues")
                return {"name": cfg.name, "stopped_after_epoch": epoch + 1}
    finally:
        if metrics_log is not None:
            metrics_log.close()
    # The last epoch is always evaluated, on the model as saved (no epoch_end after it), and a selected epoch was
    # evaluated on the state kept for it: reuse those figures.
    chosen = history[-1]
    if selected is not None:
        chosen = next(h for h in history if h["epoch"] == selected["epoch"])
        model.load_state_dict(selected["model"])
    elif average is not None:
        model.load_state_dict(average.model_state(model.state_dict()))
    final = {k[len("test_"):]: v for k, v in chosen.items() if k.startswith("test_")}
    metrics = {"name": cfg.name, "method": cfg.method, "dataset": task.data_used, **_test_names(final),
               "epochs": cfg.learning.epochs, "seconds": round(seconds, 2), "command": command,
               "threads": torch.get_num_threads(), "torch": torch.__version__}
    if x_val is not None:
        metrics.update({"validation_fraction": cfg.data.validation, "validation_fold": cfg.data.validation_fold,
                        "validation_samples": len(y_val),
                        "validation_accuracy": chosen["val_accuracy"], "selected_epoch": chosen["epoch"],
                        "selection": ("best validation accuracy (first of equals)" if selected is not None
                                      else "last epoch")})
    if dist.active:
        metrics["processes"] = dist.world
    metrics.update(task.describe(model))
    if main:
        atomic_write_bytes(out / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
        from neuroplast.plots import CHECKPOINT_PLOTS, plot_result, training_curves

        if any((out / name).exists() for name in CHECKPOINT_PLOTS):
            say(f"neuroplast: refreshing the pictures a previous run left in {out}")
            plot_result(out, log=say)
        else:
            training_curves(history, out / "training_curves.png", title=cfg.name,
                            selected=metrics.get("selected_epoch"))
    return metrics


def train_epoch(cfg: RunConfig, task, model, optimizer, x_train, y_train, epoch: int, dist: Context | None = None,
                progress: bool = False, after_step=None) -> dict:
    """One epoch of training: the epoch's seeded shuffle, then every batch; returns the summed batch statistics.

    The shuffle depends only on (seed, epoch), so a resumed run sees the same batches. With ``dist`` each rank takes
    its slice of every batch and gradients and sums are combined. ``after_step(model)`` runs after every optimizer
    step (probes use it, e.g. for a moving average of the weights).
    """
    dist = dist or Context()
    n, bs = len(x_train), cfg.learning.batch_size
    task.set_epoch(optimizer, epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch))
    sums: dict[str, float] = {}
    for start in progress_lines(range(0, n, bs), desc=f"epoch {epoch + 1}/{cfg.learning.epochs}", enabled=progress):
        batch = order[start:start + bs]
        idx = dist.shard(batch)
        optimizer.zero_grad(set_to_none=True)
        if len(idx):
            xb, yb = task.augment(task.inputs(x_train[idx]), idx, epoch), y_train[idx]
            out = model(xb)
            loss = task.loss(out, yb)
            loss.backward()
        dist.reduce_gradients(model.parameters(), len(idx), len(batch))
        task.after_backward(model)
        optimizer.step()
        task.after_step(model)
        if len(idx):
            for k, v in task.batch_stats(model, _detach(out), yb, train=True, loss=loss.item()).items():
                sums[k] = sums.get(k, 0.0) + v
        if after_step is not None:
            after_step(model)
    return dist.reduce_sums(sums)


def _detach(output):
    """Model outputs are a tensor (SSTDP) or a (spikes, counts) pair (ScSr)."""
    return output.detach() if torch.is_tensor(output) else (output[0].detach(), output[1])


def _test_names(metrics: dict) -> dict:
    """The headline metric is ``test_accuracy`` (strict); the others keep their own names."""
    return {("test_accuracy" if k == "accuracy" else k): v for k, v in metrics.items()}


def evaluate_result(result_dir: Path) -> dict:
    """Reload a result folder's checkpoint and recompute its test metrics."""
    path = Path(result_dir) / "checkpoint.pt"
    ckpt = load_checkpoint(path)
    cfg = checkpoint_config(ckpt, path)
    task = make_task(cfg)
    _, (x_test, y_test) = task.load_data(train=False)
    model = task.build_model()
    load_states(ckpt, path, model)
    chosen = {"selected_epoch": ckpt["selected"]["epoch"]} if ckpt.get("selected") else {}
    return {"name": cfg.name, "dataset": task.data_used, **_test_names(evaluate(task, model, x_test, y_test)),
            **chosen, **task.describe(model)}

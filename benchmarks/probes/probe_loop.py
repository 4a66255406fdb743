"""A whole run of the trainer's epochs without checkpoints or logs, for probes that look inside a run."""

import json

import torch

from neuroplast.config import load_config
from neuroplast.data.holdout import hold_out
from neuroplast.train.trainer import evaluate, make_task, set_threads, train_epoch


def load_run(config: str, overrides: list[str]):
    """Config, task and data as ``neuroplast train`` sets them up: ``(cfg, task, train, val, test)`` with each
    split an ``(x, y)`` pair; ``val`` is ``(None, None)`` without ``data.validation``."""
    cfg = load_config(config, overrides)
    set_threads(cfg.train.threads)
    task = make_task(cfg)
    torch.manual_seed(cfg.seed)
    (x_train, y_train), test = task.load_data()
    if not cfg.data.validation:
        return cfg, task, (x_train, y_train), (None, None), test
    kept, held = hold_out(y_train, cfg.data.validation, cfg.data.validation_fold)
    return cfg, task, (x_train[kept], y_train[kept]), (x_train[held], y_train[held]), test


def build(task, x_train):
    """Model and optimizer as ``neuroplast train`` starts them, data-dependent init (``templates``) included."""
    model = task.build_model()
    task.init_from_data(model, x_train)
    return model, task.optimizer(model)


def train_epochs(cfg, task, model, optimizer, x_train, y_train, after_step=None, after_epoch=None):
    """Every epoch of ``cfg`` as ``neuroplast train`` runs it (same shuffles, hooks, dead-neuron re-initialisation).

    ``after_step(model)`` runs after every optimizer step, ``after_epoch(epoch, model)`` after each epoch and
    before the task's epoch-end hook changes the model (so it sees the state ``neuroplast train`` evaluates).
    """
    for epoch in range(cfg.learning.epochs):
        sums = train_epoch(cfg, task, model, optimizer, x_train, y_train, epoch, after_step=after_step)
        if after_epoch is not None:
            after_epoch(epoch, model)
        if epoch + 1 < cfg.learning.epochs:
            task.epoch_end(model, sums, len(x_train))


def epoch_row(task, model, test, val, **fields) -> dict:
    """One line of a probe's output: ``fields``, then strict accuracy on the test images (``test``) and, where
    ``load_run`` held some out, on the held-out ones (``val``)."""
    row = {**fields, "test": evaluate(task, model, *test)["accuracy"]}
    if val[0] is not None:
        row["val"] = evaluate(task, model, *val)["accuracy"]
    return row


def train_and_report(cfg, task, x_train, y_train, test, val, **fields):
    """Build and train as ``neuroplast train`` does, printing :func:`epoch_row` (with ``fields``) as one JSON line
    after every epoch: the loop of the probes that change only the data or the rule, not what they report."""
    model, optimizer = build(task, x_train)

    def report(epoch, model):
        print(json.dumps(epoch_row(task, model, test, val, **fields, epoch=epoch + 1)), flush=True)

    train_epochs(cfg, task, model, optimizer, x_train, y_train, after_epoch=report)
    return model


def ink_change(before: torch.Tensor, after: torch.Tensor) -> dict:
    """How a per-image input transform changed a split: the share of images whose ink (sum of intensities) rose,
    and their mean ink before and after; ``before`` and ``after`` hold one sum per image."""
    changed = after > before + 1e-9
    some = bool(changed.any())
    return {"images": len(before), "changed": changed.double().mean().item(),
            "ink_before": before[changed].mean().item() if some else None,
            "ink_after": after[changed].mean().item() if some else None}

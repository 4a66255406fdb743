"""The trainer's epoch loop without checkpoints or logs, for probes that look inside a run (shared by them)."""

import torch

from neuroplast.train.trainer import _detach


def train_epochs(cfg, task, model, optimizer, x_train, y_train, after_step=None, after_epoch=None):
    """Same shuffles, hooks and dead-neuron re-initialisation as ``neuroplast train``.

    ``after_step(model)`` runs after every optimizer step, ``after_epoch(epoch, model)`` after each epoch and
    before the task's epoch-end hook changes the model (so it sees the state ``neuroplast train`` evaluates).
    """
    n, bs = len(x_train), cfg.learning.batch_size
    for epoch in range(cfg.learning.epochs):
        task.set_epoch(optimizer, epoch)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch))
        sums: dict[str, float] = {}
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            optimizer.zero_grad(set_to_none=True)
            out = model(task.augment(task.inputs(x_train[idx]), idx, epoch))
            loss = task.loss(out, y_train[idx])
            loss.backward()
            task.after_backward(model)
            optimizer.step()
            task.after_step(model)
            for k, v in task.batch_stats(model, _detach(out), y_train[idx], train=True, loss=loss.item()).items():
                sums[k] = sums.get(k, 0.0) + v
            if after_step is not None:
                after_step(model)
        if after_epoch is not None:
            after_epoch(epoch, model)
        if epoch + 1 < cfg.learning.epochs:
            task.epoch_end(model, sums, n)

"""A whole run of the trainer's epochs without checkpoints or logs, for probes that look inside a run."""

from neuroplast.train.trainer import train_epoch


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

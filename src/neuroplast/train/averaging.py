"""An exponential moving average of a model's weights (``train.average``), kept beside the live weights.

Why: where test accuracy jumps from epoch to epoch (SSTDP on Fashion-MNIST moves by a point or two between
epochs), the average of the last few thousand steps generalises better than any single step's weights. Training
continues on the live weights; the average is what a run evaluates, selects and reports.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from neuroplast.errors import NeuroplastError


class WeightAverage:
    """``avg <- decay * avg + (1 - decay) * w`` after every optimizer step, in the weights' own dtype (so a
    checkpoint holding it is twice, not three times, the model's size); other buffers are copied."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0 < decay < 1:
            raise NeuroplastError(f"train.average must be a decay per step in (0, 1), got {decay}")
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model: torch.nn.Module):
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.state[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.state[k].copy_(v)

    def load(self, state: dict | None, where: str):
        """Restore the average a checkpoint saved (resume); a checkpoint without one cannot resume averaging."""
        if not isinstance(state, dict) or state.keys() != self.state.keys():
            raise NeuroplastError(f"{where} holds no weight average for this model although its config asks for one "
                                  "(`train.average`); the file was edited or damaged: start a new run")
        self.state = {k: v.clone() for k, v in state.items()}

    def model_state(self, like: dict) -> dict:
        """The average in the live weights' dtypes, ready for ``load_state_dict``."""
        return {k: self.state[k].to(like[k].dtype) for k in like}

    @contextmanager
    def applied(self, model: torch.nn.Module):
        """The model holds the averaged weights inside the block and its live weights again after it."""
        live = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.model_state(live))
        try:
            yield model
        finally:
            model.load_state_dict(live)

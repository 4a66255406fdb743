"""Typed, validated run configuration (YAML in, pydantic models out).

Everything is rejected before any work starts: an unknown key (with a did-you-mean), a wrong type or an
impossible value ends in one line naming the key and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import numbers
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from neuroplast.errors import NeuroplastError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # a NaN/inf setting only ends in NaN weights


class DataConfig(_Strict):
    dataset: str = "mnist"
    root: str | None = None
    fallback: str | None = Field(None, description="dataset to use when `dataset` is not on disk (e.g. digits)")
    limit_train: int | None = Field(None, ge=1)
    limit_test: int | None = Field(None, ge=1)
    validation: float = Field(0.0, ge=0, lt=1, description="fraction of the training set held out for model "
                              "selection (per class, the same samples for every seed)")
    validation_fold: int = Field(0, ge=0, description="which disjoint block of that size is held out: fraction 1/K "
                                 "with folds 0..K-1 is K-fold cross-validation")
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fold_needs_validation(self):
        if self.validation_fold and not self.validation:
            raise ValueError("data.validation_fold picks a held-out block; set data.validation (e.g. 0.2 for "
                             "5 folds) too")
        return self


class SSTDPModelConfig(_Strict):
    t_max: int = Field(255, ge=2, le=100000)
    window: int | None = Field(None, ge=1)
    tau_leak: float | None = Field(None, ge=1)
    theta: float = Field(100.0, gt=0)
    layers: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("layers")
    @classmethod
    def _layers(cls, layers):
        for k, item in enumerate(layers):
            problem = _layer_problem(k, item)
            if problem:
                # Its own error type: the message names the value, so the loader does not echo the whole list.
                raise PydanticCustomError("layer_spec", "layer {k}: {problem}", {"k": k, "problem": problem})
        return layers


_LAYER_KEYS = {"type", "out", "kernel", "stride", "padding", "theta", "init", "lr", "weight_decay", "normalise",
               "dropout", "bias_times", "templates", "winners"}


def _integer(value) -> bool:
    """An int, not a bool or a float: 400.7 neurons is a typo, not a request for 400."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _finite(value) -> bool:
    """A real number (not a bool, a string or a list) that is neither NaN nor inf."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _layer_problem(k: int, item: dict) -> str | None:
    """The first rule layer ``k`` breaks, saying what was given and what is allowed; None when it is fine.

    Checked here rather than where the network is built, so that a bad value stops the run before any work
    instead of ending in a traceback; rules that need the input shape are checked in :class:`SSTDPNet`.
    """
    unknown = set(item) - _LAYER_KEYS
    if unknown:
        return f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_LAYER_KEYS)}"
    kind = item.get("type", "linear")
    if kind not in ("linear", "conv", "pool"):
        return f"type must be linear, conv or pool, got {kind!r}"

    def got(key):
        return f" (got {item[key]!r})"

    if kind != "pool":
        if "out" not in item:
            return f"'out' (the number of neurons) is required for a {kind} layer"
        if not _integer(item["out"]) or item["out"] < 1:
            return "'out' must be a positive integer number of neurons" + got("out")
    if kind in ("conv", "pool"):
        if "kernel" not in item:
            return f"'kernel' is required for a {kind} layer"
        if not _integer(item["kernel"]) or item["kernel"] < 1:
            return "'kernel' must be an integer >= 1" + got("kernel")
    if "stride" in item and (not _integer(item["stride"]) or item["stride"] < 1):
        return "'stride' must be an integer >= 1" + got("stride")
    if "padding" in item and (not _integer(item["padding"]) or item["padding"] < 0):
        return "'padding' must be an integer >= 0" + got("padding")
    if "lr" in item and (not _finite(item["lr"]) or item["lr"] <= 0):
        return "lr must be a finite number > 0; it overrides learning.lr for this layer" + got("lr")
    if "weight_decay" in item and (not _finite(item["weight_decay"]) or item["weight_decay"] < 0):
        return ("weight_decay must be a finite number >= 0; it overrides learning.weight_decay for this layer"
                + got("weight_decay"))
    if "dropout" in item:
        if kind == "pool":
            return "dropout is for linear / conv layers, not pool"
        if not _finite(item["dropout"]) or not 0.0 <= item["dropout"] < 1.0:
            return "dropout is for linear / conv layers, a probability in [0, 1)" + got("dropout")
    if "normalise" in item:
        if kind != "conv":
            return f"normalise is for conv layers, not {kind}"
        if item["normalise"] not in ("sample", "map"):
            return "normalise is for conv layers, 'sample' (default) or 'map'" + got("normalise")
    if "theta" in item and (not _finite(item["theta"]) or item["theta"] <= 0):
        return "theta must be a finite number > 0" + got("theta")
    if "bias_times" in item:
        if kind == "pool":
            return "bias_times is for linear / conv layers, not pool"
        times = item["bias_times"]
        if not isinstance(times, list) or not all(_integer(t) and t >= 0 for t in times):
            return "bias_times is for linear / conv layers, a list of integer steps >= 0" + got("bias_times")
    if "winners" in item:
        if kind != "linear":
            return f"winners is for linear layers, not {kind}"
        n = item["winners"]
        if not _integer(n) or n < 1 or ("out" in item and _integer(item["out"]) and n >= item["out"]):
            return ("winners must be an integer in [1, out - 1], how many of the layer's earliest spikes pass"
                    + got("winners"))
    if "templates" in item:
        if k != 0:
            return f"templates is for the first layer only (layer 0), not layer {k}"
        if kind == "pool":
            return "templates is for a linear / conv first layer, not pool"
        if not _finite(item["templates"]) or item["templates"] <= 0:
            return "templates must be a finite number > 0, the scale of the training inputs" + got("templates")
    if "init" in item:
        init = item["init"]
        if (not isinstance(init, (list, tuple)) or len(init) != 2 or not all(_finite(v) for v in init)
                or init[0] > init[1]):
            return "init must be [low, high], two finite numbers with low <= high" + got("init")
    return None


class SSTDPLearningConfig(_Strict):
    target_rule: Literal["first-spike", "mean"] = "first-spike"
    margin: float = Field(5.0, ge=0)
    stdp_window: Literal["step", "exp"] = "step"
    a_plus: float = Field(1.0, ge=0)
    b_minus: float = Field(0.0, ge=0)
    tau_stdp: float = Field(10.0, gt=0)
    lr: float = Field(10.0, gt=0)
    lr_decay: float = Field(1.0, gt=0, le=1, description="multiply lr by this after every epoch")
    optimizer: Literal["sgd", "adam"] = Field(
        "sgd", description="sgd (the released code) or adam; the SSTDP update is the gradient either way")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (the released code: 0)")
    weight_decay: float = Field(1e-6, ge=0)
    batch_size: int = Field(64, ge=1)
    epochs: int = Field(20, ge=1)
    dead_neuron_threshold: float = Field(1e-3, ge=0, le=1)

    @model_validator(mode="after")
    def _momentum_is_sgd_only(self):
        if self.optimizer == "adam" and self.momentum:
            raise ValueError("momentum applies to optimizer 'sgd' only (Adam keeps its own moment estimates); "
                             "remove learning.momentum or set learning.optimizer: sgd")
        return self


class ScSrModelConfig(_Strict):
    preset: Literal["feedforward", "fc-rsnn", "sparse-rsnn", "sr", "scsr", "scsr-bip"] = "scsr-bip"
    hidden: list[int] = Field(default_factory=lambda: [256, 256], min_length=1)
    skips: list[tuple[int, int]] | None = Field(None, description="override the preset's skips: [[src, dst], ...]")
    tau_mem: float = Field(64.0, gt=1)
    tau_syn: float = Field(8.0, gt=1)
    threshold: float = Field(1.0, gt=0)
    gain: float = Field(1.0, gt=0)
    recurrent_strength: float = Field(1.0, ge=0)
    density: float = Field(0.1, gt=0, le=1)
    surrogate: str = "fast_sigmoid"
    surrogate_width: float = Field(0.5, gt=0)
    grad_method: Literal["bptt", "tssl"] = "bptt"
    feedback: Literal["trace", "spike"] = "trace"
    truncation: int = Field(0, ge=0, description="truncated BPTT window in steps (0: full BPTT)")
    dropout: float = Field(0.0, ge=0, lt=1, description="training only: silence a hidden neuron's output for a "
                           "whole sample with this probability")

    @field_validator("hidden")
    @classmethod
    def _hidden(cls, hidden):
        if any(h < 1 for h in hidden):
            raise ValueError("every hidden layer needs >= 1 neuron")
        return hidden


class ScSrLearningConfig(_Strict):
    loss: Literal["spike-count", "kernel", "cross-entropy"] = "spike-count"
    desired_count: float = Field(35.0, ge=0)
    undesired_count: float = Field(5.0, ge=0)
    ce_scale: float = Field(1.0, gt=0)
    lr: float = Field(5e-4, gt=0)
    intrinsic_lr: float = Field(5e-4, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)
    weight_clip: float | None = Field(4.0, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="cosine: both groups' lr fall to lr_min_factor x lr over the epochs")
    lr_min_factor: float = Field(0.02, ge=0, le=1)
    warmup_epochs: int = Field(0, ge=0, description="linear lr warm-up over the first epochs")
    batch_size: int = Field(50, ge=1)
    epochs: int = Field(100, ge=1)


class TrainConfig(_Strict):
    out_dir: str | None = None
    threads: int | None = Field(None, ge=1)
    progress: bool = True
    eval_every: int = Field(1, ge=1)
    stop_after: int | None = Field(None, ge=1, description="stop after this many epochs; `resume` continues")
    keep: Literal["last", "best"] = Field("last", description="the model a run reports: the last epoch's, or the "
                                          "evaluated epoch with the best validation accuracy (needs data.validation)")
    average: float | None = Field(None, gt=0, lt=1, description="decay per optimizer step of a moving average of "
                                  "the weights; the average is evaluated, selected and reported, training continues "
                                  "on the live weights (null: off)")


class RunConfig(_Strict):
    """An SSTDP run (``method: sstdp``); :class:`ScSrRunConfig` is the ScSr-SNN one."""

    name: str
    method: Literal["sstdp"] = "sstdp"
    seed: int = 0
    data: DataConfig = Field(default_factory=DataConfig)
    model: SSTDPModelConfig
    learning: SSTDPLearningConfig = Field(default_factory=SSTDPLearningConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _selection_needs_validation(self):
        if self.train.keep == "best" and not self.data.validation:
            raise ValueError("train.keep: best selects the epoch by validation accuracy; set data.validation "
                             "(e.g. 0.1) to hold out part of the training set, or use keep: last")
        return self

    def out_dir(self) -> Path:
        return Path(self.train.out_dir or Path("results") / self.name)


class ScSrRunConfig(RunConfig):
    method: Literal["scsr"] = "scsr"
    model: ScSrModelConfig = Field(default_factory=ScSrModelConfig)
    learning: ScSrLearningConfig = Field(default_factory=ScSrLearningConfig)


METHODS: dict[str, type[RunConfig]] = {"sstdp": RunConfig, "scsr": ScSrRunConfig}


def validate_config(data: dict) -> RunConfig:
    """Pick the config class by ``method`` and validate; errors become one NeuroplastError line."""
    method = data.get("method", "sstdp")
    if method not in METHODS:
        close = difflib.get_close_matches(str(method), list(METHODS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise NeuroplastError(f"config: method {method!r} is unknown{hint}; allowed: {', '.join(METHODS)}")
    try:
        return METHODS[method].model_validate(data)
    except ValidationError as err:
        raise NeuroplastError(_explain(err, METHODS[method])) from None


def _model_for(loc: tuple, root: type[BaseModel]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model else None
        ann = field.annotation if field else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def _explain(err: ValidationError, root: type[BaseModel]) -> str:
    first = err.errors()[0]
    loc = tuple(str(p) for p in first["loc"])
    key = ".".join(loc) or "<root>"
    if first["type"] == "extra_forbidden":
        model = _model_for(loc, root)
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"config: unknown key {key!r}{hint}; allowed here: {', '.join(allowed)}"
    if first["type"] == "missing":
        return f"config: required key {key!r} is missing"
    msg, got = first["msg"].removeprefix("Value error, "), first.get("input")
    if first["type"] == "layer_spec":  # names the layer and its value itself
        return f"config: {key}: {msg}"
    # A rule over a whole section (a model validator) gets the section as input: its message names the keys.
    where = "" if key == "<root>" else f"{key}: "
    return f"config: {where}{msg}" + ("" if isinstance(got, dict) else f" (got {got!r})")


def _set_path(data: dict, dotted: str, value: Any):
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise NeuroplastError(f"--set {dotted}: {part!r} is not a section")
    node[parts[-1]] = value


def load_config(path: str | Path | None = None, overrides: list[str] = (), data: dict | None = None) -> RunConfig:
    """Read YAML (or take a dict), apply ``key.sub=value`` overrides (values parsed as YAML), validate."""
    if data is None:
        p = Path(path)
        if not p.is_file():
            raise NeuroplastError(f"config file {str(p)!r} not found; see configs/ for examples")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise NeuroplastError(f"config file {str(p)!r} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise NeuroplastError("config: the top level must be a mapping of keys to values")
    for item in overrides:
        if "=" not in item:
            raise NeuroplastError(f"--set {item!r}: expected key=value, e.g. learning.epochs=5")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            # The value is one line, so yaml's problem and column say it all; its multi-line report would not.
            mark = getattr(exc, "problem_mark", None)
            where = f" at column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise NeuroplastError(f"--set {item!r}: the value is not valid YAML ({problem}{where}); write it as "
                                  "YAML, e.g. learning.lr=0.5 or 'data.options={augment: {shift: 1}}'") from None
        _set_path(data, key.strip(), parsed)
    return validate_config(data)


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

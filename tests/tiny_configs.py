"""The small SSTDP run on scikit-learn's digits that the CLI, trainer and fault tests share (a second each)."""


def tiny_sstdp(name: str, seed: int, limit_train: int, limit_test: int, hidden: int = 20, *, batch_size: int,
               epochs: int, lr_decay: float | None = None) -> dict:
    """A config dict for a digits network ``64 - hidden - 10`` at t_max 32, one thread, no progress lines."""
    learning = {"lr": 0.5, "batch_size": batch_size, "epochs": epochs}
    if lr_decay is not None:
        learning["lr_decay"] = lr_decay
    return {
        "name": name,
        "method": "sstdp",
        "seed": seed,
        "data": {"dataset": "digits", "limit_train": limit_train, "limit_test": limit_test},
        "model": {"t_max": 32, "theta": 8.0, "layers": [{"type": "linear", "out": hidden, "init": [0, 1]},
                                                       {"type": "linear", "out": 10, "init": [0, 3]}]},
        "learning": learning,
        "train": {"threads": 1, "progress": False},
    }

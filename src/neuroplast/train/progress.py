"""Progress on long steps and the per-epoch metric files.

A bar (tqdm) only makes sense on a terminal; in a log file its carriage returns are noise, so when stderr is
not a TTY the same progress becomes a few plain lines (at 25, 50, 75 and 100 %). Metrics always go to
``metrics.jsonl`` and ``metrics.csv``; to TensorBoard too when ``torch.utils.tensorboard`` imports (the
``tensorboard`` package is optional and is skipped silently when absent).

Torch is imported only by the metric writers, so speech-encoding workers can use the bars cheaply.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

QUARTERS = 4


class LineProgress:
    """The non-terminal stand-in for a tqdm bar: ``update`` counts, a line is printed at each quarter done."""

    def __init__(self, total: int | None, desc: str, stream=None):
        self.total, self.desc, self.n = total, desc, 0
        self.stream = stream or sys.stderr
        self.tic = time.perf_counter()
        self._shown = 0

    def update(self, n: int = 1):
        self.n += n
        if not self.total or self.total < 2:  # a one-step task is not long: no line for it
            return
        reached = min(QUARTERS, self.n * QUARTERS // self.total)
        if reached > self._shown:
            self._shown = reached
            pct = 100 * self.n // self.total
            print(f"{self.desc}: {self.n}/{self.total} ({pct}%) {time.perf_counter() - self.tic:.1f}s",
                  file=self.stream, flush=True)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Silent(LineProgress):
    def update(self, n: int = 1):
        self.n += n


def progress_bar(total: int | None, desc: str, enabled: bool = True, unit: str = "it", stream=None):
    """A tqdm bar on a terminal, plain quarter lines otherwise, nothing when ``enabled`` is false."""
    stream = stream or sys.stderr
    if not enabled or os.environ.get("RANK", "0") != "0":  # data-parallel: only rank 0 reports
        return _Silent(total, desc, stream)
    if _isatty(stream):
        return tqdm(total=total, desc=desc, unit=unit, leave=False, file=stream)
    return LineProgress(total, desc, stream)


def progress(iterable, total: int | None = None, desc: str = "", enabled: bool = True, stream=None):
    """Iterate ``iterable`` while reporting progress as :func:`progress_bar` does."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    with progress_bar(total, desc, enabled, stream=stream) as bar:
        for item in iterable:
            yield item
            bar.update()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def csv_text(history: list[dict]) -> str:
    """All epochs as CSV; the columns are every key seen, in order of first appearance (blank where absent)."""
    columns: list[str] = []
    for record in history:
        columns.extend(k for k in record if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for record in history:
        writer.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in record.items()})
    return buf.getvalue()


def tensorboard_writer(log_dir: Path):
    """A SummaryWriter when TensorBoard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(log_dir))


class MetricsLog:
    """Per-epoch metrics of one run: ``metrics.jsonl`` (appended), ``metrics.csv`` (rewritten whole, atomically,
    so a kill never leaves half a row) and ``tensorboard/`` when available. Only rank 0 holds one."""

    def __init__(self, out: Path, tensorboard: bool = True):
        self.out = Path(out)
        self.tb = tensorboard_writer(self.out / "tensorboard") if tensorboard else None

    def restart(self, history: list[dict]):
        """After a resume the checkpoint's history is the truth: both files restart from it."""
        from neuroplast.train.checkpoint import atomic_write_bytes

        atomic_write_bytes(self.out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history).encode())
        atomic_write_bytes(self.out / "metrics.csv", csv_text(history).encode())

    def write(self, record: dict, history: list[dict]):
        from neuroplast.train.checkpoint import atomic_write_bytes

        with open(self.out / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        atomic_write_bytes(self.out / "metrics.csv", csv_text(history).encode())
        if self.tb is not None:
            step = int(record.get("epoch", len(history)))
            for key, value in record.items():
                if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.tb.add_scalar(key, value, step)
            self.tb.flush()

    def close(self):
        if self.tb is not None:
            self.tb.close()
            self.tb = None

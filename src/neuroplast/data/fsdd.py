"""Free Spoken Digit Dataset: ``{root}/fsdd/recordings/{digit}_{speaker}_{index}.wav``, 8 kHz mono 16-bit PCM.

Splits: ``"index"`` is the dataset's own (recordings 0-4 test, 5 and up train); ``"speaker:<name>"`` leaves
one speaker out (train on the others, test on <name>), the speaker-independent test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroplast.data.speech import SpeechEncoder, encode_dataset
from neuroplast.errors import NeuroplastError
from neuroplast.settings import data_root

__all__ = ["FsddItem", "fsdd_dir", "list_fsdd", "load_fsdd", "split_fsdd"]

_NAME = re.compile(r"^(\d)_([A-Za-z][A-Za-z0-9]*)_(\d+)\.wav$")
TEST_INDICES = range(0, 5)
"""The dataset's own test set: recordings with index 0-4 of every digit and speaker."""


@dataclass(frozen=True)
class FsddItem:
    """One recording; ``label`` is the spoken digit."""

    path: Path
    label: int
    speaker: str
    index: int


def fsdd_dir(root: str | os.PathLike | None = None) -> Path:
    """The recordings folder under the data root (``root``, ``$NEUROPLAST_DATA`` or ``../shared/data``)."""
    return data_root(root) / "fsdd" / "recordings"


def list_fsdd(root: str | os.PathLike | None = None) -> list[FsddItem]:
    """Every recording, sorted by (digit, speaker, index); any non-hidden file with another name is an error."""
    folder = fsdd_dir(root)
    if not folder.is_dir():
        raise NeuroplastError(
            f"FSDD folder {str(folder)!r} does not exist; put the dataset's recordings/ folder at "
            "<data root>/fsdd/recordings, or point NEUROPLAST_DATA or `--set data.root=PATH` at the data root"
        )
    items: list[FsddItem] = []
    bad: list[str] = []
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.is_dir():
            continue
        match = _NAME.match(entry.name)
        if match is None:
            bad.append(entry.name)
            continue
        digit, speaker, index = match.groups()
        items.append(FsddItem(entry, int(digit), speaker, int(index)))
    if bad:
        shown = ", ".join(sorted(bad)[:5]) + (" ..." if len(bad) > 5 else "")
        raise NeuroplastError(
            f"{len(bad)} file(s) in {str(folder)!r} are not named '{{digit}}_{{speaker}}_{{index}}.wav': {shown}; "
            "move them out of the recordings folder"
        )
    if not items:
        raise NeuroplastError(f"FSDD folder {str(folder)!r} holds no recordings; copy the dataset's .wav files there")
    return sorted(items, key=lambda it: (it.label, it.speaker, it.index))


def split_fsdd(items: list[FsddItem], split: str = "index", part: str = "train") -> list[FsddItem]:
    """Select one part ("train" or "test") of a split ("index" or "speaker:<name>")."""
    if part not in ("train", "test"):
        raise NeuroplastError(f"part must be 'train' or 'test', got {part!r}")
    want_test = part == "test"
    if split == "index":
        chosen = [it for it in items if (it.index in TEST_INDICES) == want_test]
    elif split.startswith("speaker:"):
        name = split.split(":", 1)[1]
        speakers = sorted({it.speaker for it in items})
        if name not in speakers:
            raise NeuroplastError(f"FSDD has no speaker {name!r}; choose one of {', '.join(speakers)}")
        chosen = [it for it in items if (it.speaker == name) == want_test]
    else:
        raise NeuroplastError(f"unknown FSDD split {split!r}; use 'index' or 'speaker:<name>'")
    if not chosen:
        raise NeuroplastError(f"FSDD split {split!r} has no {part} recordings in this folder; check the files")
    return chosen


def load_fsdd(
    encoder: SpeechEncoder,
    split: str = "index",
    part: str = "train",
    root: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Encoded spikes uint8 (N, T, C) and digit labels int64 (N,) for one part of a split, via the cache."""
    chosen = split_fsdd(list_fsdd(root), split, part)
    spikes = encode_dataset(encoder, chosen, cache_dir=cache_dir, workers=workers)
    return spikes, np.array([it.label for it in chosen], dtype=np.int64)

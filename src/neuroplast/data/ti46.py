"""TI46 (LDC93S9, "TI 46-Word"), read from the layout of the NIST CD-ROM (Speech Disc 7-1.1).

Supported layout (directory and file names matched case-insensitively)::

    <data root>/ti46/ti20/{train,test}/<speaker>/<word><speaker><session><token>.wav   (or .sph)
    <data root>/ti46/ti_alpha/{train,test}/<speaker>/...

- ``<speaker>``: f1-f8, m1-m8 (16 speakers). ``<word>``: the corpus' 2-character prompt code.
- ``<session>``: ``se`` (enrollment) in train/, ``s1``-``s8`` in test/; ``<token>``: 2 characters, e.g. ``t0``.
  Example: ``ti_alpha/train/f1/0Af1set0.wav`` is speaker f1's first enrollment token of the letter A.
- The files hold NIST SPHERE 16-bit PCM at 12.5 kHz; the CD names them ``.wav``, copies often ``.sph``; both
  are read by content. Shorten-compressed copies must be decompressed first (the reader says how).

Subsets and labels:
- ``"digits"`` (TI46-Digits): ti20, word codes 00-09 -> labels 0-9 (the 10 command words are skipped).
- ``"alpha"`` (TI46-Alpha): ti_alpha, word codes 0A-0Z -> labels 0-25 (A=0 ... Z=25).
- ``"ti20"``: ti20, all 20 words: 00-09 -> 0-9, then EN ER GO HP NO RB RP SP ST YS -> 10-19.
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

__all__ = ["SUBSETS", "Ti46Item", "list_ti46", "load_ti46", "ti46_dir"]

DIGIT_CODES = tuple(f"0{d}" for d in range(10))
ALPHA_CODES = tuple(f"0{chr(c)}" for c in range(ord("A"), ord("Z") + 1))
COMMAND_CODES = ("EN", "ER", "GO", "HP", "NO", "RB", "RP", "SP", "ST", "YS")
SUBSETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "digits": ("ti20", DIGIT_CODES),
    "alpha": ("ti_alpha", ALPHA_CODES),
    "ti20": ("ti20", DIGIT_CODES + COMMAND_CODES),
}
"""subset -> (corpus folder, word codes in label order)."""

_NAME = re.compile(r"^([0-9A-Z]{2})([FM][1-8])(SE|S[1-8])([0-9A-Z]{2})\.(WAV|SPH)$")


@dataclass(frozen=True)
class Ti46Item:
    """One utterance; ``label`` indexes the subset's word codes."""

    path: Path
    label: int
    word: str
    speaker: str
    session: str
    token: str


def ti46_dir(root: str | os.PathLike | None = None) -> Path:
    """``<data root>/ti46``."""
    return data_root(root) / "ti46"


def _child(folder: Path, name: str) -> Path | None:
    """A sub-folder matched case-insensitively, since CD copies may be upper-case."""
    exact = folder / name
    if exact.is_dir():
        return exact
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_dir() and entry.name.lower() == name:
                return entry
    return None


def list_ti46(subset: str = "alpha", part: str = "train", root: str | os.PathLike | None = None) -> list[Ti46Item]:
    """All utterances of one subset and part, sorted by (speaker, label, session, token)."""
    if subset not in SUBSETS:
        raise NeuroplastError(f"unknown TI46 subset {subset!r}; use one of {', '.join(SUBSETS)}")
    if part not in ("train", "test"):
        raise NeuroplastError(f"part must be 'train' or 'test', got {part!r}")
    corpus_name, codes = SUBSETS[subset]
    base = ti46_dir(root)
    corpus = _child(base, corpus_name)
    folder = _child(corpus, part) if corpus is not None else None
    if folder is None:
        raise NeuroplastError(
            f"TI46 folder {str(base / corpus_name / part)!r} does not exist; copy the TI46 CD-ROM's "
            f"{corpus_name}/ tree to <data root>/ti46/ (point NEUROPLAST_DATA or `--set data.root=PATH` at the "
            "data root)"
        )
    label_of = {code: i for i, code in enumerate(codes)}
    items: list[Ti46Item] = []
    bad: list[str] = []
    for speaker_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for entry in sorted(speaker_dir.iterdir()):
            if entry.name.startswith(".") or entry.is_dir():
                continue
            match = _NAME.match(entry.name.upper())
            if match is None:
                bad.append(f"{speaker_dir.name}/{entry.name}")
                continue
            word, speaker, session, token, _ = match.groups()
            in_train = session == "SE"
            if speaker != speaker_dir.name.upper() or in_train != (part == "train"):
                bad.append(f"{speaker_dir.name}/{entry.name}")
                continue
            if word in label_of:
                items.append(Ti46Item(entry, label_of[word], word, speaker.lower(), session.lower(), token.lower()))
    if bad:
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise NeuroplastError(
            f"{len(bad)} file(s) under {str(folder)!r} do not follow <word><speaker><session><token>.wav with "
            f"the speaker's folder and {'se' if part == 'train' else 's1-s8'} sessions: {shown}; fix or move them"
        )
    if not items:
        raise NeuroplastError(
            f"no TI46 {subset} utterances under {str(folder)!r}; check the layout (see neuroplast.data.ti46)"
        )
    return sorted(items, key=lambda it: (it.speaker, it.label, it.session, it.token))


def load_ti46(
    encoder: SpeechEncoder,
    subset: str = "alpha",
    part: str = "train",
    root: str | os.PathLike | None = None,
    *,
    speakers: list[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Encoded spikes uint8 (N, T, C) and labels int64 (N,); ``speakers`` restricts to e.g. ["f1", "m1"]."""
    items = list_ti46(subset, part, root)
    if speakers is not None:
        wanted = {s.lower() for s in speakers}
        items = [it for it in items if it.speaker in wanted]
        if not items:
            raise NeuroplastError(f"no TI46 {subset} {part} utterances from speakers {sorted(wanted)}")
    spikes = encode_dataset(encoder, items, cache_dir=cache_dir, workers=workers)
    return spikes, np.array([it.label for it in items], dtype=np.int64)

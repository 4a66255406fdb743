"""Audio readers for the speech datasets: RIFF/WAVE and NIST SPHERE, plus resampling to the front end's rate.

Both readers are written against the file formats themselves (not a codec library) so that a damaged file
fails with a message naming the file and the fix, instead of a codec traceback or silently short audio.
Samples come back as float64 in [-1, 1), scaled by the storage width (2**15 for 16-bit data), mono.
"""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from neuroplast.errors import NeuroplastError

__all__ = [
    "FRONTEND_RATE",
    "load_audio",
    "read_audio",
    "read_sphere",
    "read_sphere_header",
    "read_wav",
    "resample",
]

FRONTEND_RATE = 12_500
"""Sample rate of the ST-RSBP speech front end (methods.md 1.7); TI46 is recorded at this rate."""

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_WAVE_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0003: "IEEE float",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
}
_SPHERE_MAGIC = b"NIST_1A\n"


def _pcm_to_float(raw: bytes, n_bytes: int, n_channels: int, little_endian: bool, where: str) -> np.ndarray:
    """Decode interleaved integer PCM to mono float64; multi-channel audio is averaged to mono."""
    order = "<" if little_endian else ">"
    if n_bytes == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif n_bytes in (2, 4):
        data = np.frombuffer(raw, dtype=f"{order}i{n_bytes}").astype(np.float64) / float(2 ** (8 * n_bytes - 1))
    elif n_bytes == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        if not little_endian:
            b = b[:, ::-1]
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        data = value.astype(np.float64) / float(1 << 23)
    else:
        raise NeuroplastError(f"{where}: {8 * n_bytes}-bit samples are not supported; convert to 16-bit PCM")
    if n_channels > 1:
        data = data.reshape(-1, n_channels).mean(axis=1)
    if data.size == 0:
        raise NeuroplastError(f"{where}: the file holds no audio samples; re-export or remove it")
    return data


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read an integer-PCM RIFF/WAVE file -> (mono float64 samples, sample rate).

    Parsed chunk by chunk so a truncated data chunk or a float/compressed format is reported, never half-read.
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise NeuroplastError(f"cannot read audio file {str(path)!r}: {exc.strerror or exc}") from exc
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise NeuroplastError(
            f"{str(path)!r} is not a RIFF/WAVE file (bad or missing 'RIFF....WAVE' header); the file is corrupt "
            "or in another format; re-download it or convert it to 16-bit PCM WAV"
        )
    fmt: tuple[int, int, int, int, int] | None = None
    data: tuple[int, int] | None = None
    offset = 12
    while offset + 8 <= len(blob):
        chunk_id = blob[offset : offset + 4]
        (size,) = struct.unpack("<I", blob[offset + 4 : offset + 8])
        body = offset + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + size > len(blob):
                raise NeuroplastError(f"{str(path)!r}: truncated 'fmt ' chunk; the file is corrupt, re-download it")
            tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", blob[body : body + 16])
            if tag == _WAVE_FORMAT_EXTENSIBLE and size >= 40:
                (tag,) = struct.unpack("<H", blob[body + 24 : body + 26])
            fmt = (tag, channels, rate, block_align, bits)
        elif chunk_id == b"data":
            data = (body, size)
            break
        offset = body + size + (size & 1)
    if fmt is None:
        raise NeuroplastError(
            f"{str(path)!r}: no 'fmt ' chunk before the audio data; the file is corrupt, re-download it"
        )
    if data is None:
        raise NeuroplastError(f"{str(path)!r}: no 'data' chunk; the file is truncated or corrupt, re-download it")
    tag, channels, rate, block_align, bits = fmt
    if tag != _WAVE_FORMAT_PCM:
        name = _WAVE_FORMAT_NAMES.get(tag, f"format tag 0x{tag:04x}")
        raise NeuroplastError(
            f"{str(path)!r} is {name}, not integer PCM; convert it, e.g. `sox in.wav -b 16 -e signed-integer out.wav`"
        )
    if channels < 1 or rate < 1 or bits not in (8, 16, 24, 32) or block_align != channels * bits // 8:
        raise NeuroplastError(
            f"{str(path)!r}: inconsistent format header (channels={channels}, rate={rate}, bits={bits}, "
            f"block_align={block_align}); the file is corrupt, re-download it"
        )
    start, size = data
    available = len(blob) - start
    if size > available:
        raise NeuroplastError(
            f"{str(path)!r} is truncated: its header announces {size} bytes of audio but only {available} are "
            "present; re-download or re-export the file"
        )
    n_frames = size // block_align
    raw = blob[start : start + n_frames * block_align]
    return _pcm_to_float(raw, bits // 8, channels, True, repr(str(path))), int(rate)


def read_sphere_header(path: str | os.PathLike) -> dict[str, int | float | str]:
    """Parse the ASCII header of a NIST SPHERE file ('NIST_1A', header size, `name -type value` lines, 'end_head')."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
            if not head.startswith(_SPHERE_MAGIC):
                raise NeuroplastError(
                    f"{str(path)!r} is not a NIST SPHERE file (it does not start with 'NIST_1A'); "
                    "check the file or the dataset layout"
                )
            lines = head.split(b"\n")
            try:
                header_size = int(lines[1].strip())
            except (IndexError, ValueError):
                raise NeuroplastError(
                    f"{str(path)!r}: unreadable SPHERE header size line; the file is corrupt"
                ) from None
            if header_size < len(_SPHERE_MAGIC) + 2 or header_size > 1 << 20:
                raise NeuroplastError(
                    f"{str(path)!r}: implausible SPHERE header size {header_size}; the file is corrupt"
                )
            if header_size > len(head):
                head += fh.read(header_size - len(head))
    except OSError as exc:
        raise NeuroplastError(f"cannot read audio file {str(path)!r}: {exc.strerror or exc}") from exc
    if len(head) < header_size:
        raise NeuroplastError(f"{str(path)!r} is truncated inside its {header_size}-byte SPHERE header; re-copy it")
    text = head[:header_size].decode("ascii", errors="replace")
    fields: dict[str, int | float | str] = {"header_size": header_size}
    for line in text.split("\n")[2:]:
        line = line.rstrip("\r")
        if line.strip() == "end_head":
            return fields
        if not line.strip() or line.startswith(";"):
            continue
        parts = line.split(" ", 2)
        if len(parts) < 3 or not parts[1].startswith("-"):
            raise NeuroplastError(f"{str(path)!r}: malformed SPHERE header line {line!r}; the file is corrupt")
        name, kind, value = parts[0], parts[1][1:], parts[2]
        try:
            if kind == "i":
                fields[name] = int(value.strip())
            elif kind == "r":
                fields[name] = float(value.strip())
            elif kind.startswith("s"):
                fields[name] = value[: int(kind[1:])] if kind[1:] else value
            else:
                raise ValueError(kind)
        except ValueError:
            raise NeuroplastError(
                f"{str(path)!r}: malformed SPHERE header line {line!r}; the file is corrupt"
            ) from None
    raise NeuroplastError(f"{str(path)!r}: SPHERE header has no 'end_head' line; the file is corrupt or truncated")


def read_sphere(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read an uncompressed PCM NIST SPHERE file (TI46, TIDIGITS) -> (mono float64 samples, sample rate)."""
    path = Path(path)
    header = read_sphere_header(path)
    where = repr(str(path))
    coding = str(header.get("sample_coding", "pcm")).strip().lower()
    if "shorten" in coding or "wavpack" in coding or "shortpack" in coding:
        raise NeuroplastError(
            f"{where} is compressed (sample_coding {coding!r}); decompress it first, e.g. "
            "`sph2pipe -f sph in.sph out.sph` (LDC's sph2pipe) or NIST's `w_decode -o pcm in.sph out.sph`"
        )
    if coding != "pcm":
        raise NeuroplastError(f"{where} uses sample_coding {coding!r}; only linear PCM SPHERE files are supported")
    if "sample_rate" not in header:
        raise NeuroplastError(f"{where}: SPHERE header lacks 'sample_rate'; the file is corrupt")
    rate = int(round(float(header["sample_rate"])))
    n_bytes = int(header.get("sample_n_bytes", 2))
    channels = int(header.get("channel_count", 1))
    if rate < 1 or channels < 1 or n_bytes not in (2, 3, 4):
        raise NeuroplastError(
            f"{where}: unsupported SPHERE layout (sample_rate={rate}, channel_count={channels}, "
            f"sample_n_bytes={n_bytes}); convert it to 16-bit PCM"
        )
    byte_format = str(header.get("sample_byte_format", "")).strip()
    if byte_format in ("01", "0123"[:n_bytes]):
        little = True
    elif byte_format in ("10", "3210"[-n_bytes:]):
        little = False
    else:
        raise NeuroplastError(
            f"{where}: sample_byte_format {byte_format!r} is not '01' (little-endian) or '10' (big-endian); "
            "the header is missing it or the data is packed in an unsupported way"
        )
    with path.open("rb") as fh:
        fh.seek(int(header["header_size"]))
        raw = fh.read()
    frame = n_bytes * channels
    if "sample_count" in header:
        expected = int(header["sample_count"]) * frame
        if len(raw) < expected:
            raise NeuroplastError(
                f"{where} is truncated: sample_count announces {expected} bytes of audio but only {len(raw)} are "
                "present; re-copy the file from the corpus"
            )
        raw = raw[:expected]
    else:
        raw = raw[: len(raw) // frame * frame]
    return _pcm_to_float(raw, n_bytes, channels, little, where), rate


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read WAV or SPHERE by content, not extension: the TI46 CD stores SPHERE data under a .wav suffix."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        raise NeuroplastError(f"cannot read audio file {str(path)!r}: {exc.strerror or exc}") from exc
    if magic.startswith(_SPHERE_MAGIC):
        return read_sphere(path)
    return read_wav(path)


def resample(signal: np.ndarray, rate_in: int, rate_out: int = FRONTEND_RATE) -> np.ndarray:
    """Polyphase resampling by the exact rational ratio (8 kHz -> 12.5 kHz is up 25, down 16)."""
    if rate_in <= 0 or rate_out <= 0:
        raise NeuroplastError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
    signal = np.asarray(signal, dtype=np.float64)
    if rate_in == rate_out:
        return signal.copy()
    ratio = Fraction(int(rate_out), int(rate_in))
    return resample_poly(signal, ratio.numerator, ratio.denominator)


def load_audio(path: str | os.PathLike, sample_rate: int = FRONTEND_RATE) -> np.ndarray:
    """Read any supported file and resample it to ``sample_rate``; the front ends' single entry point."""
    signal, rate = read_audio(path)
    return resample(signal, rate, sample_rate)

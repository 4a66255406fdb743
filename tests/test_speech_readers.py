"""Dataset readers on small files the tests write in each dataset's own on-disk format."""

from __future__ import annotations

import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.io import wavfile

from neuroplast.data.audio import load_audio, read_audio, read_sphere, read_sphere_header, read_wav, resample
from neuroplast.data.fsdd import list_fsdd, load_fsdd, split_fsdd
from neuroplast.data.neuromorphic import NTIDIGITS_CLASSES, bin_events, load_ntidigits, load_shd
from neuroplast.data.speech import LyonBSAEncoder, MelThresholdEncoder
from neuroplast.data.ti46 import list_ti46, load_ti46
from neuroplast.errors import NeuroplastError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))


def pcm16(freq: float, n: int, rate: int, amplitude: float = 0.4) -> np.ndarray:
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.int16)


def write_sphere(
    path: Path,
    samples: np.ndarray,
    rate: int = 12_500,
    byte_format: str = "01",
    coding: str = "pcm",
    drop_end_head: bool = False,
    sample_count: int | None = None,
) -> None:
    lines = [
        "NIST_1A",
        "   1024",
        "database_id -s5 TI46",
        "speaker_id -s2 f1",
        f"sample_count -i {len(samples) if sample_count is None else sample_count}",
        f"sample_rate -i {rate}",
        "channel_count -i 1",
        "sample_n_bytes -i 2",
        f"sample_byte_format -s2 {byte_format}",
        f"sample_coding -s{len(coding)} {coding}",
        "sample_sig_bits -i 16",
    ]
    if not drop_end_head:
        lines.append("end_head")
    header = ("\n".join(lines) + "\n").encode("ascii").ljust(1024, b" ")
    dtype = "<i2" if byte_format == "01" else ">i2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + np.asarray(samples).astype(dtype).tobytes())


# --- WAV and resampling -----------------------------------------------------------------------------------


def test_read_wav_matches_int16_and_mixes_stereo(tmp_path: Path) -> None:
    x = pcm16(440.0, 800, 8000)
    wavfile.write(tmp_path / "m.wav", 8000, x)
    signal, rate = read_wav(tmp_path / "m.wav")
    assert rate == 8000
    np.testing.assert_array_equal(signal, x / 32768.0)
    wavfile.write(tmp_path / "s.wav", 8000, np.stack([x, np.zeros_like(x)], axis=1))
    stereo, _ = read_wav(tmp_path / "s.wav")
    np.testing.assert_allclose(stereo, x / 65536.0)


def test_read_wav_rejects_float_truncated_and_garbage(tmp_path: Path) -> None:
    wavfile.write(tmp_path / "f.wav", 8000, np.zeros(100, dtype=np.float32))
    with pytest.raises(NeuroplastError, match="IEEE float, not integer PCM"):
        read_wav(tmp_path / "f.wav")
    wavfile.write(tmp_path / "t.wav", 8000, pcm16(300.0, 1000, 8000))
    blob = (tmp_path / "t.wav").read_bytes()
    (tmp_path / "t.wav").write_bytes(blob[:-500])
    with pytest.raises(NeuroplastError, match="truncated"):
        read_wav(tmp_path / "t.wav")
    (tmp_path / "h.wav").write_bytes(blob[:30])
    with pytest.raises(NeuroplastError, match="corrupt|truncated"):
        read_wav(tmp_path / "h.wav")
    (tmp_path / "g.wav").write_bytes(b"this is not audio at all")
    with pytest.raises(NeuroplastError, match="not a RIFF/WAVE"):
        read_audio(tmp_path / "g.wav")
    with pytest.raises(NeuroplastError, match="cannot read"):
        read_wav(tmp_path / "absent.wav")
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 8000, 16000, 2, 16)
    (tmp_path / "e.wav").write_bytes(b"RIFF" + struct.pack("<I", 36) + b"WAVE" + fmt + b"data" + struct.pack("<I", 0))
    with pytest.raises(NeuroplastError, match="no audio samples"):
        read_wav(tmp_path / "e.wav")


def test_resample_8k_to_12k5(tmp_path: Path) -> None:
    x = np.sin(2 * np.pi * 200 * np.arange(8000) / 8000)
    y = resample(x, 8000)
    assert y.shape == (12_500,)
    expected = np.sin(2 * np.pi * 200 * np.arange(12_500) / 12_500)
    np.testing.assert_allclose(y[1000:11000], expected[1000:11000], atol=1e-3)
    wavfile.write(tmp_path / "a.wav", 8000, pcm16(200.0, 8000, 8000))
    assert load_audio(tmp_path / "a.wav").shape == (12_500,)


# --- NIST SPHERE ------------------------------------------------------------------------------------------


def test_sphere_little_and_big_endian(tmp_path: Path) -> None:
    x = pcm16(500.0, 1250, 12_500)
    x[:4] = [1, -2, 300, -32768]
    write_sphere(tmp_path / "le.sph", x, byte_format="01")
    write_sphere(tmp_path / "be.sph", x, byte_format="10")
    assert (tmp_path / "le.sph").read_bytes()[1024:1026] == b"\x01\x00"
    assert (tmp_path / "be.sph").read_bytes()[1024:1026] == b"\x00\x01"
    for name in ("le.sph", "be.sph"):
        signal, rate = read_sphere(tmp_path / name)
        assert rate == 12_500
        np.testing.assert_array_equal(signal, x / 32768.0)
    header = read_sphere_header(tmp_path / "le.sph")
    assert header["sample_count"] == 1250 and header["database_id"] == "TI46" and header["header_size"] == 1024
    write_sphere(tmp_path / "cd.wav", x, byte_format="10")
    np.testing.assert_array_equal(read_audio(tmp_path / "cd.wav")[0], x / 32768.0)


def test_sphere_rejects_compressed_nonpcm_truncated_and_bad_header(tmp_path: Path) -> None:
    x = pcm16(500.0, 400, 12_500)
    write_sphere(tmp_path / "shorten.sph", x, coding="pcm,embedded-shorten-v2.00")
    with pytest.raises(NeuroplastError, match="compressed.*sph2pipe"):
        read_sphere(tmp_path / "shorten.sph")
    write_sphere(tmp_path / "ulaw.sph", x, coding="ulaw")
    with pytest.raises(NeuroplastError, match="only linear PCM"):
        read_audio(tmp_path / "ulaw.sph")
    write_sphere(tmp_path / "short.sph", x, sample_count=800)
    with pytest.raises(NeuroplastError, match="truncated"):
        read_sphere(tmp_path / "short.sph")
    write_sphere(tmp_path / "nohead.sph", x, drop_end_head=True)
    with pytest.raises(NeuroplastError, match="end_head"):
        read_sphere(tmp_path / "nohead.sph")
    write_sphere(tmp_path / "order.sph", x, byte_format="xy")
    with pytest.raises(NeuroplastError, match="sample_byte_format"):
        read_sphere(tmp_path / "order.sph")
    (tmp_path / "cut.sph").write_bytes(b"NIST_1A\n   1024\nsample_rate -i 8000\n")
    with pytest.raises(NeuroplastError, match="truncated"):
        read_sphere(tmp_path / "cut.sph")


# --- FSDD -------------------------------------------------------------------------------------------------


def make_fsdd(root: Path, speakers: tuple[str, ...] = ("alice", "bob", "carol"), indices: range = range(7)) -> Path:
    folder = root / "fsdd" / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    for digit in range(3):
        for s, speaker in enumerate(speakers):
            for index in indices:
                freq = 300.0 + 200.0 * digit + 10.0 * s + index
                wavfile.write(folder / f"{digit}_{speaker}_{index}.wav", 8000, pcm16(freq, 2400, 8000))
    return folder


def test_fsdd_listing_and_splits(tmp_path: Path) -> None:
    make_fsdd(tmp_path)
    items = list_fsdd(tmp_path)
    assert len(items) == 3 * 3 * 7
    assert items[0].label == 0 and items[0].speaker == "alice" and items[0].index == 0
    test = split_fsdd(items, "index", "test")
    train = split_fsdd(items, "index", "train")
    assert len(test) == 3 * 3 * 5 and len(train) == 3 * 3 * 2
    assert all(it.index < 5 for it in test) and all(it.index >= 5 for it in train)
    held = split_fsdd(items, "speaker:bob", "test")
    rest = split_fsdd(items, "speaker:bob", "train")
    assert {it.speaker for it in held} == {"bob"} and len(held) == 21
    assert {it.speaker for it in rest} == {"alice", "carol"} and len(rest) == 42
    with pytest.raises(NeuroplastError, match="no speaker 'dave'.*alice, bob, carol"):
        split_fsdd(items, "speaker:dave", "test")
    with pytest.raises(NeuroplastError, match="unknown FSDD split"):
        split_fsdd(items, "random", "test")
    with pytest.raises(NeuroplastError, match="part must be"):
        split_fsdd(items, "index", "valid")


def test_load_fsdd_both_split_kinds(tmp_path: Path) -> None:
    make_fsdd(tmp_path)
    enc = MelThresholdEncoder(n_mels=12, n_steps=60)
    spikes, labels = load_fsdd(enc, "index", "train", tmp_path)
    assert spikes.shape == (18, 60, 12) and spikes.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    spikes, labels = load_fsdd(enc, "speaker:carol", "test", tmp_path)
    assert spikes.shape == (21, 60, 12) and sorted(set(labels.tolist())) == [0, 1, 2]
    lyon, _ = load_fsdd(LyonBSAEncoder(n_steps=100), "speaker:alice", "test", tmp_path)
    assert lyon.shape == (21, 100, 78) and lyon.sum() > 0


def test_fsdd_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(NeuroplastError, match="does not exist"):
        list_fsdd(tmp_path)
    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    with pytest.raises(NeuroplastError, match="holds no recordings"):
        list_fsdd(tmp_path)
    make_fsdd(tmp_path, speakers=("alice",), indices=range(5, 7))
    with pytest.raises(NeuroplastError, match="no test recordings"):
        load_fsdd(MelThresholdEncoder(), "index", "test", tmp_path)
    (folder / ".DS_Store").write_bytes(b"")
    (folder / "3-bob-1.wav").write_bytes(b"")
    with pytest.raises(NeuroplastError, match=r"not named.*3-bob-1\.wav"):
        list_fsdd(tmp_path)
    (folder / "3-bob-1.wav").unlink()
    (folder / "0_alice_9.wav").write_bytes(b"RIFF\x00\x00")
    with pytest.raises(NeuroplastError, match="0_alice_9.wav"):
        load_fsdd(MelThresholdEncoder(), "index", "train", tmp_path)


# --- TI46 -------------------------------------------------------------------------------------------------


def make_ti46(root: Path) -> None:
    base = root / "ti46"
    for corpus, words in (("ti20", ("00", "03", "09", "EN")), ("TI_ALPHA", ("0A", "0Z"))):
        for speaker in ("f1", "m2"):
            for word in words:
                for token in ("t0", "t1"):
                    name = f"{word}{speaker}se{token}"
                    write_sphere(base / corpus / "train" / speaker / f"{name}.wav", pcm16(400.0, 1500, 12_500))
                name = f"{word}{speaker}s3t0"
                test_file = base / corpus / "test" / speaker / f"{name}.sph"
                write_sphere(test_file, pcm16(400.0, 1500, 12_500), byte_format="10")


def test_ti46_subsets_and_labels(tmp_path: Path) -> None:
    make_ti46(tmp_path)
    digits = list_ti46("digits", "train", tmp_path)
    assert len(digits) == 2 * 3 * 2
    assert sorted({(it.word, it.label) for it in digits}) == [("00", 0), ("03", 3), ("09", 9)]
    assert {it.session for it in digits} == {"se"} and {it.speaker for it in digits} == {"f1", "m2"}
    assert {(it.word, it.label) for it in list_ti46("ti20", "train", tmp_path)} >= {("EN", 10)}
    alpha = list_ti46("alpha", "test", tmp_path)
    assert len(alpha) == 4 and {(it.word, it.label) for it in alpha} == {("0A", 0), ("0Z", 25)}
    enc = MelThresholdEncoder(n_mels=10, n_steps=40)
    spikes, labels = load_ti46(enc, "alpha", "train", tmp_path)
    assert spikes.shape == (8, 40, 10) and labels.tolist() == [0, 0, 25, 25, 0, 0, 25, 25]
    spikes, labels = load_ti46(enc, "digits", "test", tmp_path, speakers=["M2"])
    assert spikes.shape == (3, 40, 10) and labels.tolist() == [0, 3, 9] and spikes.sum() > 0


def test_ti46_errors(tmp_path: Path) -> None:
    with pytest.raises(NeuroplastError, match="does not exist"):
        list_ti46("alpha", "train", tmp_path)
    make_ti46(tmp_path)
    with pytest.raises(NeuroplastError, match="unknown TI46 subset"):
        list_ti46("letters", "train", tmp_path)
    bad = tmp_path / "ti46" / "ti20" / "train" / "f1" / "00f1s1t0.wav"
    write_sphere(bad, pcm16(400.0, 100, 12_500))
    with pytest.raises(NeuroplastError, match=r"00f1s1t0\.wav"):
        list_ti46("digits", "train", tmp_path)
    bad.unlink()
    compressed = tmp_path / "ti46" / "ti20" / "train" / "f1" / "01f1set0.wav"
    write_sphere(compressed, pcm16(400.0, 400, 12_500), coding="pcm,embedded-shorten-v2.00")
    with pytest.raises(NeuroplastError, match="sph2pipe"):
        load_ti46(MelThresholdEncoder(), "digits", "train", tmp_path)


# --- N-TIDIGITS and SHD -----------------------------------------------------------------------------------


def test_bin_events() -> None:
    grid = bin_events(np.array([0.0, 0.0015, 0.0021, 0.5]), np.array([3, 3, 1, 0]), 4, 1e-3, 10)
    assert grid.shape == (10, 4) and grid.dtype == np.uint8
    assert grid[1, 3] == 1 and grid[2, 1] == 1 and grid[0, 3] == 1 and grid.sum() == 3
    counts = bin_events(np.array([0.0, 0.0001, 0.0002]), np.array([2, 2, 2]), 4, 1e-3, 5, binary=False)
    assert counts[0, 2] == 3
    with pytest.raises(NeuroplastError, match="outside 0..3"):
        bin_events(np.array([0.0]), np.array([4]), 4, 1e-3, 5)
    with pytest.raises(NeuroplastError, match=">= 0"):
        bin_events(np.array([-1.0]), np.array([0]), 4, 1e-3, 5)


def write_ntidigits(path: Path, with_labels: bool = True) -> None:
    ids = {"train": ["man-ab-a-z", "woman-cd-b-7", "man-ab-a-12", "boy-ef-a-o"], "test": ["girl-gh-a-3"]}
    with h5py.File(path, "w") as f:
        for part, names in ids.items():
            if with_labels:
                f.create_dataset(f"{part}_labels", data=np.array([n.encode() for n in names]))
            for i, name in enumerate(names):
                f.create_dataset(f"{part}_timestamps/{name}", data=np.array([0.0, 0.0031, 0.01 * (i + 1)]))
                f.create_dataset(f"{part}_addresses/{name}", data=np.array([i, 63, 5], dtype=np.int32))


def test_ntidigits_reader(tmp_path: Path) -> None:
    path = tmp_path / "ntidigits" / "n-tidigits.hdf5"
    path.parent.mkdir()
    write_ntidigits(path)
    spikes, labels = load_ntidigits("train", tmp_path, dt=1e-3, n_steps=50)
    assert spikes.shape == (3, 50, 64) and spikes.dtype == np.uint8
    assert [NTIDIGITS_CLASSES[k] for k in labels] == ["z", "7", "o"] and labels.tolist() == [0, 7, 10]
    assert spikes[1, 0, 1] == 1 and spikes[1, 3, 63] == 1 and spikes[1, 20, 5] == 1 and spikes[1].sum() == 3
    assert spikes[2, 40, 5] == 1
    test_spikes, test_labels = load_ntidigits("test", path=path, dt=1e-3, n_steps=5)
    assert test_labels.tolist() == [3] and test_spikes[0].sum() == 2
    write_ntidigits(tmp_path / "nolabels.hdf5", with_labels=False)
    _, unlabelled = load_ntidigits("train", path=tmp_path / "nolabels.hdf5", dt=1e-3, n_steps=50)
    assert sorted(unlabelled.tolist()) == [0, 7, 10]


def test_ntidigits_errors(tmp_path: Path) -> None:
    with pytest.raises(NeuroplastError, match="does not exist"):
        load_ntidigits("train", tmp_path)
    with h5py.File(tmp_path / "broken.hdf5", "w") as f:
        f.create_dataset("train_timestamps/man-ab-a-1", data=np.array([0.0]))
    with pytest.raises(NeuroplastError, match="no group 'train_addresses'"):
        load_ntidigits("train", path=tmp_path / "broken.hdf5")
    with h5py.File(tmp_path / "multi.hdf5", "w") as f:
        f.create_dataset("train_timestamps/man-ab-a-12", data=np.array([0.0]))
        f.create_dataset("train_addresses/man-ab-a-12", data=np.array([0]))
    with pytest.raises(NeuroplastError, match="no single-digit"):
        load_ntidigits("train", path=tmp_path / "multi.hdf5")
    (tmp_path / "junk.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(NeuroplastError, match="cannot read"):
        load_ntidigits("train", path=tmp_path / "junk.hdf5")


def write_shd(path: Path, drop: str | None = None) -> None:
    times = [np.array([0.0, 0.015, 0.5], dtype=np.float32), np.array([0.021], dtype=np.float32)]
    units = [np.array([0, 699, 10], dtype=np.uint16), np.array([42], dtype=np.uint16)]
    with h5py.File(path, "w") as f:
        if drop != "times":
            f.create_dataset("spikes/times", data=np.array(times, dtype=object), dtype=h5py.vlen_dtype(np.float32))
        f.create_dataset("spikes/units", data=np.array(units, dtype=object), dtype=h5py.vlen_dtype(np.uint16))
        if drop != "labels":
            f.create_dataset("labels", data=np.array([3, 19], dtype=np.uint16))


def test_shd_reader(tmp_path: Path) -> None:
    path = tmp_path / "shd" / "shd_test.h5"
    path.parent.mkdir()
    write_shd(path)
    spikes, labels = load_shd("test", tmp_path)
    assert spikes.shape == (2, 140, 700) and spikes.dtype == np.uint8 and labels.tolist() == [3, 19]
    assert spikes[0, 0, 0] == 1 and spikes[0, 1, 699] == 1 and spikes[0, 50, 10] == 1 and spikes[1, 2, 42] == 1
    short, _ = load_shd("test", path=path, dt=1e-2, n_steps=10)
    assert short[0].sum() == 2


def test_shd_errors(tmp_path: Path) -> None:
    write_shd(tmp_path / "nolabels.h5", drop="labels")
    with pytest.raises(NeuroplastError, match="no 'labels'"):
        load_shd("train", path=tmp_path / "nolabels.h5")
    write_shd(tmp_path / "notimes.h5", drop="times")
    with pytest.raises(NeuroplastError, match="no 'spikes/times'"):
        load_shd("train", path=tmp_path / "notimes.h5")
    with pytest.raises(NeuroplastError, match="part must be"):
        load_shd("valid", path=tmp_path / "notimes.h5")

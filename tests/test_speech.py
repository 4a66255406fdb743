"""Speech front ends: BSA, Lyon, log-mel encoders, and the spike cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from neuroplast.data import speech
from neuroplast.data.speech import (
    LyonBSAEncoder,
    MelThresholdEncoder,
    bsa_encode,
    bsa_kernel,
    describe_frontend,
    encode_dataset,
    mel_filterbank,
)
from neuroplast.errors import NeuroplastError

RATE = 12_500


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))


def tone(freq: float, seconds: float, rate: int = RATE, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def bsa_scalar(signal: np.ndarray, kernel: np.ndarray, threshold: float) -> np.ndarray:
    """The textbook BSA, one channel and one tap at a time, zeros past the end."""
    n_steps, n_channels = signal.shape
    width = len(kernel)
    out = np.zeros((n_steps, n_channels), dtype=bool)
    for c in range(n_channels):
        s = [float(v) for v in signal[:, c]] + [0.0] * (width - 1)
        for t in range(n_steps):
            error1 = sum(abs(s[t + k] - kernel[k]) for k in range(width))
            error2 = sum(abs(s[t + k]) for k in range(width))
            if error1 <= error2 - threshold:
                out[t, c] = True
                for k in range(width):
                    s[t + k] -= kernel[k]
    return out


def test_bsa_kernel_normalisations() -> None:
    h = bsa_kernel()
    assert h.shape == (24,)
    assert h.sum() == pytest.approx(1.0)
    assert np.argmax(h) == 12
    raw = np.exp(-((np.arange(24) - 12.0) ** 2) / 25.0)
    np.testing.assert_allclose(h, raw / raw.sum())
    assert bsa_kernel(norm="max").max() == pytest.approx(1.0)
    with pytest.raises(NeuroplastError, match="kernel_norm"):
        bsa_kernel(norm="l2")


def test_bsa_exact_kernel_gives_one_spike_at_its_offset() -> None:
    # With a sum-1 kernel, shifting it by one step costs error1 ~ 0.23, so a threshold above 0.77 makes the
    # exact offset the only place where error1 <= error2 - threshold; the residual is then zero.
    h = bsa_kernel()
    signal = np.zeros((60, 3))
    for channel, offset in enumerate((0, 7, 30)):
        signal[offset : offset + 24, channel] = h
    spikes = bsa_encode(signal, h, threshold=0.9)
    assert spikes.dtype == bool
    assert [np.flatnonzero(spikes[:, c]).tolist() for c in range(3)] == [[0], [7], [30]]


def test_bsa_silence_and_negative_input_never_fire() -> None:
    h = bsa_kernel()
    assert not bsa_encode(np.zeros((100, 4)), h, 0.6).any()
    assert not bsa_encode(-np.ones((100, 4)), h, 0.6).any()


def test_bsa_constant_input_rate_grows_with_level() -> None:
    levels = [0.1, 0.3, 0.5, 0.7]
    rates = [bsa_encode(np.full((400, 1), c), bsa_kernel(), 0.6)[50:350].mean() for c in levels]
    assert np.all(np.diff(rates) > 0)
    for c, rate in zip(levels, rates, strict=True):
        assert c < rate < 1.3 * c
    assert bsa_encode(np.full((400, 1), 2.0), bsa_kernel(), 0.6)[50:350].all()


@pytest.mark.parametrize("threshold", [0.6, 0.2, 0.9])
def test_bsa_vectorised_matches_scalar_loop(threshold: float) -> None:
    rng = np.random.default_rng(7)
    raw = rng.random((120, 5)) * rng.random((1, 5)) * 2.0
    smooth = np.apply_along_axis(lambda x: np.convolve(x, np.ones(5) / 5, mode="same"), 0, raw)
    signal = np.where(rng.random((120, 5)) < 0.1, -smooth, smooth)
    h = bsa_kernel()
    expected = bsa_scalar(signal, h, threshold)
    assert expected.any()
    np.testing.assert_array_equal(bsa_encode(signal, h, threshold), expected)
    np.testing.assert_array_equal(bsa_encode(signal[:, 2], h, threshold), expected[:, 2])


def test_lyon_has_78_channels_at_12k5_decimation_200() -> None:
    enc = LyonBSAEncoder()
    assert enc.n_channels == 78
    coch = enc.cochleagram(tone(1000.0, 1.0), RATE)
    assert coch.shape == (RATE // 200, 78)
    assert coch.max() > 0
    assert enc.step_seconds == pytest.approx(0.0016)


def test_lyon_bsa_output_shape_dtype_and_content() -> None:
    enc = LyonBSAEncoder()
    spikes = enc.encode(tone(800.0, 0.6), RATE)
    assert spikes.shape == (700, 78) and spikes.dtype == np.uint8
    assert set(np.unique(spikes)) <= {0, 1}
    assert spikes[:300].sum() > 100
    assert not spikes[450:].any()
    assert not enc.encode(np.zeros(RATE), RATE).any()
    assert enc.encode(np.zeros(10), RATE).shape == (700, 78)


def test_lyon_resamples_8k_input() -> None:
    enc = LyonBSAEncoder()
    x8 = tone(500.0, 0.5, rate=8000)
    assert enc.cochleagram(x8, 8000).shape == (31, 78)
    assert enc.encode(x8, 8000).sum() > 0


def test_lyon_cut_before_encoding_is_exact() -> None:
    x = tone(600.0, 1.5) * np.linspace(0.2, 1.0, int(1.5 * RATE))
    long = LyonBSAEncoder(n_steps=900).encode(x, RATE)
    short = LyonBSAEncoder(n_steps=300).encode(x, RATE)
    np.testing.assert_array_equal(short, long[:300])


def test_lyon_expand_after_spikes_only_on_frame_starts() -> None:
    spikes = LyonBSAEncoder(expand="after", kernel_norm="sum").encode(tone(800.0, 1.0), RATE)
    steps = np.flatnonzero(spikes.any(axis=1))
    assert steps.size > 0 and np.all(steps % 10 == 0)


def test_encoder_argument_errors() -> None:
    with pytest.raises(NeuroplastError, match="expand"):
        LyonBSAEncoder(expand="during")
    with pytest.raises(NeuroplastError, match="mode"):
        MelThresholdEncoder(mode="rate")
    with pytest.raises(NeuroplastError, match="n_fft"):
        mel_filterbank(128, 64, 8000)


def test_mel_filterbank_covers_band() -> None:
    fb = mel_filterbank(40, 512, RATE, 50.0)
    assert fb.shape == (40, 257)
    assert (fb.sum(axis=1) > 0).all() and fb.max() <= 1.0
    peaks = fb.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0)


def test_mel_threshold_encoder_shapes_and_tonotopy() -> None:
    enc = MelThresholdEncoder()
    spikes = enc.encode(tone(1000.0, 0.5), RATE)
    assert spikes.shape == (700, 40) and spikes.dtype == np.uint8
    per_channel = spikes.sum(axis=0)
    centre = enc.filters[:, int(1000 / (RATE / 2) * 256)].argmax()
    assert abs(int(per_channel.argmax()) - int(centre)) <= 1
    assert not spikes[400:].any()
    delta = MelThresholdEncoder(mode="delta", n_mels=20, n_steps=100, steps_per_frame=4)
    out = delta.encode(tone(1000.0, 0.3), RATE)
    assert out.shape == (100, 40)
    assert out[:, :20].sum() > 0 and out[:, 20:].sum() > 0
    assert MelThresholdEncoder(mode="delta", bipolar=False).n_channels == 40


def test_describe_frontend() -> None:
    info = describe_frontend(LyonBSAEncoder())
    assert info["name"] == "LyonBSAEncoder" and info["n_channels"] == 78 and info["n_steps"] == 700
    assert info["settings"]["threshold"] == 0.6 and info["settings"]["scale"] == 2e3
    assert info["settings"]["kernel_norm"] == "sum" and info["settings"]["expand"] == "before"
    assert info["duration_s"] == pytest.approx(1.12)
    json.dumps(info)


class CountingEncoder(MelThresholdEncoder):
    calls = 0

    def encode_file(self, path):  # type: ignore[no-untyped-def]
        type(self).calls += 1
        return super().encode_file(path)


def write_tones(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"u{i}.wav"
        wavfile.write(p, 8000, (tone(300.0 + 150 * i, 0.3, rate=8000) * 32767).astype(np.int16))
        paths.append(p)
    return paths


def test_cache_skips_second_encode_and_keys_on_settings(tmp_path: Path) -> None:
    paths = write_tones(tmp_path / "wav", 4)
    CountingEncoder.calls = 0
    enc = CountingEncoder(n_mels=16, n_steps=120)
    first = encode_dataset(enc, paths, cache_dir=tmp_path / "c")
    assert first.shape == (4, 120, 16) and first.dtype == np.uint8 and CountingEncoder.calls == 4
    second = encode_dataset(CountingEncoder(n_mels=16, n_steps=120), paths, cache_dir=tmp_path / "c")
    assert CountingEncoder.calls == 4
    np.testing.assert_array_equal(first, second)
    encode_dataset(CountingEncoder(n_mels=16, n_steps=120, threshold=0.5), paths, cache_dir=tmp_path / "c")
    assert CountingEncoder.calls == 8
    encode_dataset(enc, paths[:3], cache_dir=tmp_path / "c")
    assert CountingEncoder.calls == 11
    assert len(list((tmp_path / "c").iterdir())) == 3
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_cache_default_location_and_changed_file(tmp_path: Path) -> None:
    paths = write_tones(tmp_path / "wav", 2)
    CountingEncoder.calls = 0
    enc = CountingEncoder(n_mels=8, n_steps=50)
    encode_dataset(enc, paths)
    markers = list((tmp_path / "cache" / "speech").glob("*/complete.json"))
    assert len(markers) == 1
    wavfile.write(paths[0], 8000, np.zeros(4000, dtype=np.int16))
    out = encode_dataset(enc, paths)
    assert CountingEncoder.calls == 4 and not out[0].any()


def test_cache_detects_truncated_and_missing_files(tmp_path: Path) -> None:
    paths = write_tones(tmp_path / "wav", 3)
    CountingEncoder.calls = 0
    enc = CountingEncoder(n_mels=12, n_steps=80)
    reference = encode_dataset(enc, paths, cache_dir=tmp_path / "c")
    (data,) = (tmp_path / "c").glob("*/spikes-*.npy")
    data.write_bytes(data.read_bytes()[:-7])
    np.testing.assert_array_equal(encode_dataset(enc, paths, cache_dir=tmp_path / "c"), reference)
    assert CountingEncoder.calls == 6
    np.testing.assert_array_equal(encode_dataset(enc, paths, cache_dir=tmp_path / "c"), reference)
    assert CountingEncoder.calls == 6
    (marker,) = (tmp_path / "c").glob("*/complete.json")
    marker.write_text("{not json")
    encode_dataset(enc, paths, cache_dir=tmp_path / "c")
    assert CountingEncoder.calls == 9
    data.unlink()
    encode_dataset(enc, paths, cache_dir=tmp_path / "c")
    assert CountingEncoder.calls == 12


def test_cache_errors(tmp_path: Path) -> None:
    with pytest.raises(NeuroplastError, match="empty file list"):
        encode_dataset(MelThresholdEncoder(), [], cache_dir=tmp_path)
    with pytest.raises(NeuroplastError, match="cannot read audio file"):
        encode_dataset(MelThresholdEncoder(), [tmp_path / "missing.wav"], cache_dir=tmp_path)


def test_workers_match_single_process(tmp_path: Path) -> None:
    paths = write_tones(tmp_path / "wav", 4)
    enc = MelThresholdEncoder(n_mels=10, n_steps=60)
    single = encode_dataset(enc, paths, cache_dir=tmp_path / "one")
    multi = encode_dataset(enc, paths, cache_dir=tmp_path / "two", workers=2)
    np.testing.assert_array_equal(single, multi)


def test_store_cache_is_consistent_after_repeated_writers(tmp_path: Path) -> None:
    spikes = (np.random.default_rng(0).random((3, 20, 11)) < 0.3).astype(np.uint8)
    for _ in range(2):
        speech._store_cache(tmp_path / "k", spikes, {"x": 1})
    np.testing.assert_array_equal(speech._read_cache(tmp_path / "k", 3, 20, 11), spikes)
    assert speech._read_cache(tmp_path / "k", 3, 20, 12) is None
    assert len(list((tmp_path / "k").glob("spikes-*.npy"))) == 1


def test_concurrent_writers_leave_a_valid_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    paths = write_tones(tmp_path / "wav", 6)
    enc = MelThresholdEncoder(n_mels=10, n_steps=60)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(encode_dataset, [(enc, paths, tmp_path / "c")] * 2)
    np.testing.assert_array_equal(results[0], results[1])

    def no_encoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(speech, "_encode_all", no_encoding)
    np.testing.assert_array_equal(encode_dataset(enc, paths, cache_dir=tmp_path / "c"), results[0])
    assert not list((tmp_path / "c").rglob("*.tmp"))

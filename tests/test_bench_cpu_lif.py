"""`neuroplast bench cpu-lif --quick`: the harness runs end to end and writes the documented JSON keys."""

import json

import pytest

from neuroplast.cli import main as cli_main

pytest.importorskip("numba")


@pytest.mark.parametrize("in_process", [True, False])
def test_quick_bench_writes_json_and_plot(tmp_path, in_process):
    out = tmp_path / "cpu-lif.json"
    libs = ["neuroplast", "gemm", "snntorch", "spikingjelly", "norse"]
    argv = ["bench", "cpu-lif", "--quick", "--threads", "1", "--libraries", *libs, "--out", str(out)]
    if in_process:
        argv.append("--in-process")
    else:
        argv += ["--no-scsr", "--no-plot"]
    assert cli_main(argv) == 0
    data = json.loads(out.read_text())
    for key in ("speedup_vs_fastest_peer", "speedup_vs_fastest_peer_n256", "speedup_vs_fastest_peer_scsr",
                "ratio_to_gemm_limit", "summary", "versions", "machine", "method", "config", "results"):
        assert key in data
    assert data["ratio_to_gemm_limit"] > 0
    done = {(r["library"], r["case"]["kind"]) for r in data["results"] if "total_s" in r}
    assert {("neuroplast", "layer"), ("gemm", "layer"), ("neuroplast", "selfloop")} <= done
    for r in data["results"]:
        assert "total_s" in r or r["skipped"]
        if "total_s" in r:
            assert r["forward_s"] > 0 and r["backward_s"] > 0 and r["peak_memory_mib"] >= 0
    peers = [r for r in data["results"] if r["library"] in ("snntorch", "spikingjelly", "norse")]
    assert len(peers) >= 3
    if in_process:
        assert ("neuroplast-loop", "scsr") in done
        assert data["summary"]["per_case"]["scsr"]["speedup_vs_autograd_loop"] > 0
        assert out.with_suffix(".png").stat().st_size > 0

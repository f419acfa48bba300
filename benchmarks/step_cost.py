"""Training-step cost of flow matching, RCGM and TwinFlow on the same network and batch.

    python benchmarks/step_cost.py [--quick] [--device cpu|cuda] [--out DIR]
        [--network digits sana qwen] [--batch 64 512] [--repeats N]
    python benchmarks/step_cost.py --device cuda --network sana_600m     # GPU machine only

Each step is the module's own: ``TwinFlowModule.on_train_batch_start`` + ``training_step`` +
backward + ``on_before_optimizer_step`` + gradient clipping (1.0) + optimizer step + EMA
update, on random data of the network's shape.  For each network and batch the six modules
(flow matching, RCGM, TwinFlow; EMA target on and off) start from the same weights; the
three of one EMA setting are timed interleaved: every repeat times one step of each (order
rotated), and the ratios to flow matching (same EMA setting) are taken per repeat: min /
median / max.

Also per configuration: network calls per step and forward-equivalents per batch row (each
call's rows, a grad call's rows three times: backward = 2 forwards), and peak memory: the
step's transient peak plus the module's persistent bytes (``step_memory.py``; on the CPU from
a child process, whose allocator setting would slow the timed steps).  The six modules run in
two groups by EMA setting, one group alive at a time, so that a 0.6 B backbone fits a GPU.

Networks: ``digits`` (configs/network/digits_unet.yaml, the digits recipe of
configs/objective), ``sana`` and ``qwen`` (the tiny random-init test configs, the backbone
recipe), ``toy`` (a small MLP on 2-D points: the smoke test),
``sana_600m`` (SANA-0.6B at 512^2, random weights, bf16 autocast; CUDA only).
Writes ``step_cost.json`` and ``step_cost.md`` into ``--out`` and prints the table.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from step_memory import cpu_footprints, footprint, return_freed_memory  # noqa: E402

CONFIGS = ROOT / "configs"
SANA_600M = dict(in_channels=32, out_channels=32, num_attention_heads=36, attention_head_dim=32,
                 num_layers=28, num_cross_attention_heads=16, cross_attention_head_dim=72,
                 cross_attention_dim=1152, caption_channels=2304, sample_size=16)
#: network config, data shape, condition (tokens, width; tokens 0 = pooled), recipe, batches
NETWORKS = {
    "digits": dict(net=yaml.safe_load((CONFIGS / "network/digits_unet.yaml").read_text()),
                   shape=(1, 28, 28), cond=(0, 384), recipe="twinflow", batch=(64, 512)),
    "sana": dict(net={"class_path": "twinflow.networks.sana.SanaNetwork"},
                 shape=(4, 8, 8), cond=(8, 32), recipe="twinflow_backbone", batch=(32,)),
    "qwen": dict(net={"class_path": "twinflow.networks.qwen_image.QwenImageNetwork"},
                 shape=(16, 8, 8), cond=(8, 32), recipe="twinflow_backbone", batch=(32,)),
    "toy": dict(net={"class_path": "twinflow.networks.toy_mlp.ToyMLP",
                     "init_args": {"dim": 2, "hidden": 64, "depth": 2, "cond_dim": 8}},
                shape=(2,), cond=(0, 8), recipe="twinflow", batch=(64,)),
    "sana_600m": dict(net={"class_path": "twinflow.networks.sana.SanaNetwork",
                           "init_args": {"config": SANA_600M}},
                      shape=(32, 16, 16), cond=(300, 2304), recipe="twinflow_backbone",
                      batch=(32,), bf16_on_cuda=True),
}
METHODS = ("flow_matching", "rcgm", "twinflow")


def uses_autocast(name: str, device: torch.device) -> bool:
    """Whether network ``name`` runs under bf16 autocast on ``device`` (the 0.6 B backbone on
    CUDA, as it is trained; every timing here and in ``sampling_cost.py`` follows this)."""
    return device.type == "cuda" and NETWORKS[name].get("bf16_on_cuda", False)


def objective(method: str, recipe: str) -> dict:
    """The objective config: flow matching and (digits) RCGM as shipped; otherwise RCGM is the
    TwinFlow recipe with the twin terms off (``adv = 0``, ``rectify_weight = 0``)."""
    name = method if method == "flow_matching" or recipe == "twinflow" else recipe
    cfg = yaml.safe_load((CONFIGS / f"objective/{name}.yaml").read_text())
    if method == "rcgm" and name != "rcgm":
        cfg["init_args"]["partition"]["adv"] = 0.0
        cfg["init_args"]["rectify_weight"] = 0.0
    return cfg


def instantiate(cfg: dict):
    """``{class_path, init_args}`` -> the object (lists become tuples)."""
    module, _, name = cfg["class_path"].rpartition(".")
    kwargs = {k: tuple(v) if isinstance(v, list) else v
              for k, v in (cfg.get("init_args") or {}).items()}
    return getattr(importlib.import_module(module), name)(**kwargs)


def build_objective(cfg: dict):
    from twinflow import objective as o

    parts = {"partition": o.BatchPartition, "time_sampler": o.TimeSampler, "rcgm": o.RCGMTarget,
             "guidance": o.GuidedVelocity, "metric": o.LossMetric, "rectify": o.RectifyTarget,
             "adv_time_sampler": o.TimeSampler}
    args = {k: parts[k](**{a: tuple(b) if isinstance(b, list) else b for a, b in v.items()})
            if k in parts and v is not None else v for k, v in cfg["init_args"].items()}
    return o.TwinFlowObjective(**args)


def make_module(spec: dict, method: str, ema: bool, device: torch.device, precision: str):
    from twinflow.module import TwinFlowModule

    cfg = objective(method, spec["recipe"])
    guidance = cfg["init_args"].get("guidance") or {}
    if precision != "config" and guidance.get("ratio"):
        guidance["precision"] = precision
    torch.manual_seed(0)  # the same initial weights for every configuration
    module = TwinFlowModule(
        network=lambda: instantiate(spec["net"]),
        objective=build_objective(cfg),
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-4),
        ema_decay=0.999 if ema else None,
    )
    module.configure_model()
    module.to(device)
    if module.ema is not None:
        module.ema.shadow.to(device)
    return module, module.configure_optimizers()


def random_batch(spec: dict, batch: int, device: torch.device):
    from twinflow.data.batch import Batch
    from twinflow.networks.contract import Conditioning

    g = torch.Generator().manual_seed(1)
    tokens, width = spec["cond"]
    x = torch.randn(batch, *spec["shape"], generator=g)
    if tokens:
        cond = Conditioning(torch.randn(batch, tokens, width, generator=g),
                            torch.ones(batch, tokens, dtype=torch.long))
        null = Conditioning(torch.zeros(1, tokens, width), torch.ones(1, tokens, dtype=torch.long))
    else:
        cond, null = Conditioning(torch.randn(batch, width, generator=g)), Conditioning(
            torch.zeros(1, width))
    return Batch(x.to(device), cond.to(device), null.to(device))


class Config:
    """One module (method, EMA) with its step, call counter and measurements."""

    def __init__(self, spec, method, ema, device, autocast, precision="config") -> None:
        self.method, self.ema, self.device, self.autocast = method, ema, device, autocast
        self.module, self.opt = make_module(spec, method, ema, device, precision)
        self.times: list[float] = []
        self.batch = None  # the random batch it is timed and measured on
        self.calls: list[tuple[int, bool]] | None = None
        self.memory: dict = {}  # set by step_memory.footprint / cpu_footprints
        self.params = sum(p.numel() for p in self.module.network.parameters())
        nets = [self.module.network] + ([self.module.ema.shadow] if ema else [])
        for net in nets:
            net.register_forward_pre_hook(self._count)

    def _count(self, net, args) -> None:
        if self.calls is not None:
            self.calls.append((args[0].shape[0], torch.is_grad_enabled()))

    def step(self, batch, i: int) -> None:
        m = self.module
        m.on_train_batch_start(batch, i)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            loss = m.training_step(batch, i)
        loss.backward()
        m.on_before_optimizer_step(self.opt)
        torch.nn.utils.clip_grad_norm_(m.network.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if m.ema is not None:
            m.ema.update(m.network)

    def persistent_bytes(self) -> int:
        tensors = list(self.module.network.parameters())
        tensors += [v for s in self.opt.state.values() for v in s.values() if torch.is_tensor(v)]
        if self.module.ema is not None:
            tensors += list(self.module.ema.shadow.parameters())
        return sum(t.numel() * t.element_size() for t in tensors)

    def release(self) -> None:
        """Drop the module and optimizer (times and measurements stay)."""
        self.module = self.opt = None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(name: str, batch_size: int, args, device: torch.device,
               memory: bool) -> list[Config]:
    """The six configurations of one network and batch, warmed up and timed interleaved in
    two groups by EMA setting (the ratios compare within a group); with ``memory`` each
    group's footprint is measured after its timing.  Only one group's three modules live at
    a time: six SANA-0.6B modules in fp32 with AdamW state (7.2 GB each), three of them with
    an EMA copy (2.4 GB more), hold about 50 GB before a step's activations: too much for an
    80 GB GPU."""
    spec = NETWORKS[name]
    autocast = uses_autocast(name, device)
    batch = random_batch(spec, batch_size, device)
    done = []
    for ema in (True, False):
        configs = [Config(spec, m, ema, device, autocast, args.guidance_precision)
                   for m in METHODS]
        for cfg in configs:
            cfg.batch = batch
            for i in range(args.warmup):
                cfg.step(batch, i)
        for rep in range(args.repeats):
            shift = rep % len(configs)
            for cfg in configs[shift:] + configs[:shift]:
                sync(device)
                start = time.perf_counter()
                cfg.step(batch, rep)
                sync(device)
                cfg.times.append(time.perf_counter() - start)
        if memory:
            footprint(configs)
        for cfg in configs:
            cfg.release()
        if device.type == "cuda":
            gc.collect()  # a module's reference cycles would hold its GPU memory
            torch.cuda.empty_cache()
        done += configs
    return done


def footprint_child(args, device: torch.device) -> None:
    """The child of ``step_memory.cpu_footprints``: prints one JSON list (per planned network
    and batch) of per-configuration footprints."""
    return_freed_memory()  # from the start, so RSS follows the live tensors
    args.repeats, args.warmup = 0, max(1, args.warmup)
    out = []
    for name, batch_size in json.loads(args.footprint):
        configs = time_steps(name, batch_size, args, device, memory=True)  # warm-up only
        out.append([{"method": c.method, "ema": c.ema} | c.memory for c in configs])
    print(json.dumps(out))


def rows_for(name: str, configs: list[Config]) -> list[dict]:
    """Every configuration's row: step times, ratios to flow matching (per repeat) and its
    ``footprint`` entry, with the peak (persistent + step) as a ratio to flow matching's."""
    rows = []
    for cfg in configs:
        fm = next(c for c in configs if c.method == "flow_matching" and c.ema == cfg.ema)
        ratios = [a / b for a, b in zip(cfg.times, fm.times)]
        mine, fms = cfg.memory, fm.memory
        total = mine["persistent_mb"] + mine["step_peak_mb"]
        rows.append({
            "network": name, "batch": len(cfg.batch), "method": cfg.method, "ema": cfg.ema,
            "params": cfg.params,
            "step_ms_median": 1e3 * statistics.median(cfg.times),
            "step_ms_min": 1e3 * min(cfg.times),
            "ratio_min": min(ratios), "ratio_median": statistics.median(ratios),
            "ratio_max": max(ratios), "fwd_equiv_per_row": mine["fwd_equiv_per_row"],
            "calls_grad": mine["calls_grad"], "calls_nograd": mine["calls_nograd"],
            "step_peak_mb": mine["step_peak_mb"], "peak_mb": total,
            "peak_ratio": total / (fms["persistent_mb"] + fms["step_peak_mb"]),
        })
    return rows


def table(rows: list[dict]) -> str:
    head = ("| network | batch | method | EMA | step ms (median) | / flow matching min / median "
            "/ max | fwd-equiv per row | calls grad + no-grad | step peak MiB | peak MiB "
            "(/ FM) |\n|---|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['network']} | {r['batch']} | {r['method']} | {'on' if r['ema'] else 'off'} | "
        f"{r['step_ms_median']:.1f} | {r['ratio_min']:.2f} / {r['ratio_median']:.2f} / "
        f"{r['ratio_max']:.2f} | {r['fwd_equiv_per_row']:.2f} | {r['calls_grad']} + "
        f"{r['calls_nograd']} | {r['step_peak_mb']:.1f} | {r['peak_mb']:.1f} "
        f"({r['peak_ratio']:.2f}x) |\n" for r in rows)


def machine(device: torch.device) -> dict:
    """CPU model, threads, torch, GPU, load and date of this run."""
    model = platform.processor()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines()
                      if ln.startswith("Model name")), model)
    return {"cpu": model, "cores": len(os.sched_getaffinity(0)),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
            "load_1min": float(Path("/proc/loadavg").read_text().split()[0]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="3 repeats, smallest batch per network (about 1 min on a CPU)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", default="runs/bench", help="folder for step_cost.json / .md")
    p.add_argument("--network", nargs="+", choices=list(NETWORKS),
                   default=["digits", "sana", "qwen"])
    p.add_argument("--batch", nargs="+", type=int, help="batch sizes (default per network)")
    p.add_argument("--repeats", type=int, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--guidance-precision", choices=("config", "fp32", "bf16"), default="config",
                   help="override the recipe's guidance precision (bf16 is slow on CPUs "
                   "without bf16 units)")
    p.add_argument("--footprint", help=argparse.SUPPRESS)  # the memory pass's child
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device here; run on a GPU machine or use --device cpu")
    if "sana_600m" in args.network and args.device != "cuda":
        p.error("--network sana_600m needs --device cuda (0.6 B parameters at 512^2)")
    if args.batch and min(args.batch) < 4:
        p.error("--batch must be >= 4 (every group of the partition needs rows)")
    args.repeats = args.repeats or (3 if args.quick else 10)
    if args.repeats < 1 or args.warmup < 0:
        p.error("--repeats must be >= 1 and --warmup >= 0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore")  # self.log outside a Trainer; diffusers notices
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.footprint:
        footprint_child(args, device)
        return
    timed = []
    for name in args.network:
        # --quick is a smoke run: the digits U-Net at batch 512 alone took 4 of its 6.5 min.
        default = NETWORKS[name]["batch"][:1] if args.quick else NETWORKS[name]["batch"]
        for b in args.batch or default:
            # CUDA's peak counter needs no allocator setting: memory is measured here.
            timed.append((name, time_steps(name, b, args, device, device.type == "cuda")))
            print(f"timed {name} batch {b}", file=sys.stderr, flush=True)
    if device.type == "cpu":  # memory from a child process (its allocator slows each step)
        cpu_footprints(__file__, sys.argv[1:] if argv is None else argv, timed)
    rows = [row for name, configs in timed for row in rows_for(name, configs)]
    result = {"machine": machine(device), "repeats": args.repeats,
              "guidance_precision": args.guidance_precision, "rows": rows}
    md = table(rows)
    (out / "step_cost.json").write_text(json.dumps(result, indent=1))
    (out / "step_cost.md").write_text(md)
    print(md + f"\n{json.dumps(result['machine'])}, {args.repeats} repeats")


if __name__ == "__main__":
    main()

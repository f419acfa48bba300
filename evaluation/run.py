"""Evaluate a TwinFlow checkpoint on benchmarks at several NFEs.

    python -m evaluation.run --model runs/demo/twinflow/export [--bench digits,diversity]
        [--nfe 1,2,4] [--out DIR] [--limit N] [judge options]

Every input (model path, benchmark names, prompt files, judge paths, image size) is checked
before any image is generated or judge loaded; a problem exits with status 2 and one line
naming the file or flag to provide. Then each benchmark runs at each NFE into
`<out>/<bench>/nfe<k>/` (resumable), and `<out>/results.json`, the self-contained
`<out>/report.html` and one MLflow run (in the project's store, `runs/mlflow.db` or
`$MLFLOW_TRACKING_URI`, experiment `twinflow-eval`) are written.
`--bench digits` (the default) and `--bench diversity` without LPIPS weights run offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from evaluation.benchmarks import BENCHMARKS, Benchmark, PromptSubset
from evaluation.errors import BenchmarkInputError
from evaluation.evaluate import Evaluation, evaluate
from evaluation.merge import check_settings, merged
from evaluation.metrics import metric_prefix, scalar_metrics
from evaluation.mlflow_log import default_artifact_location, default_tracking_uri, log_run
from evaluation.module_generator import ModuleGenerator
from evaluation.out_dir import claim_out_dir, default_out_dir
from evaluation.report import write_report
from twinflow.console import OneLineParser


def comma_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise BenchmarkInputError(f"--{what} is empty; give a comma list")
    return list(dict.fromkeys(items))


def parse_nfes(text: str) -> list[int]:
    items = comma_list(text, "nfe")
    if not all(t.isdigit() for t in items):
        raise BenchmarkInputError(f"--nfe {text!r} is not a comma list of integers, e.g. 1,2,4")
    nfes = [int(t) for t in items]
    if any(n < 1 for n in nfes):
        raise BenchmarkInputError(f"--nfe {text!r}: every NFE must be >= 1")
    return nfes


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m evaluation.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a twinflow .ckpt or an export folder")
    p.add_argument("--bench", default="digits", help=f"comma list of {', '.join(BENCHMARKS)}")
    p.add_argument("--nfe", default="1,2,4", help="comma list of NFEs (default 1,2,4)")
    p.add_argument("--out", help="output folder (default <export dir>/eval, <ckpt dir>/eval/"
                                 "<ckpt name> for a .ckpt)")
    p.add_argument("--limit", type=int, help="only the first N prompts of each benchmark")
    p.add_argument("--every", type=int, help="only every K-th prompt of each benchmark")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--style", choices=("few", "any", "mul"), help="force a sampler style")
    p.add_argument("--device", default="cpu", help="torch device of the judges")
    p.add_argument("--benchmarks-root", help="prompt files root (default $TWINFLOW_BENCHMARKS "
                                             "or ../shared/benchmarks)")
    p.add_argument("--per-digit", type=int, default=100, help="digits: prompts per digit")
    g = p.add_argument_group("GenEval judges")
    g.add_argument("--detector-path", help="local Mask2Former folder")
    g.add_argument("--clip-path", help="local CLIP folder (colour classifier)")
    g.add_argument("--object-names", help="object_names.txt for the detector's label order")
    g.add_argument("--geneval-samples", type=int, default=4, help="images per prompt")
    g = p.add_argument_group("DPG-Bench judge")
    g.add_argument("--vqa-path", help="local VQA model folder (e.g. BLIP VQA)")
    g.add_argument("--dpg-csv", help="the question graph dpg_bench.csv")
    g.add_argument("--dpg-upstream-compat", action="store_true",
                   help="score exactly like the upstream script (answers must equal 'yes')")
    g.add_argument("--dpg-answer-rule", choices=("exact", "lenient"),
                   help="when an answer counts as yes (default: exact with "
                        "--dpg-upstream-compat, else lenient)")
    g = p.add_argument_group("WISE judge (one of)")
    g.add_argument("--wise-vlm-path", help="local image-text-to-text model folder")
    g.add_argument("--wise-url", help="OpenAI-compatible base URL (with --wise-model)")
    g.add_argument("--wise-model", help="served model name")
    g.add_argument("--wise-key-env", default="OPENAI_API_KEY", help="env var with the API key")
    g.add_argument("--wise-variant", default="legacy", choices=("legacy", "verified"))
    g = p.add_argument_group("diversity")
    g.add_argument("--lpips-alexnet", help="torchvision AlexNet weights (LPIPS backbone)")
    g.add_argument("--lpips-lin", help="lpips v0.1 alex.pth head (else digit-judge features)")
    g.add_argument("--div-prompts", help="prompt file, one per line (default: ten digit prompts)")
    g.add_argument("--div-k", type=int, default=4, help="samples per prompt")
    g = p.add_argument_group("output")
    g.add_argument("--mlflow-uri", help="MLflow tracking URI (default: the project's, "
                   "$MLFLOW_TRACKING_URI or sqlite:///runs/mlflow.db)")
    g.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def build_benchmark(name: str, args: argparse.Namespace) -> Benchmark:
    root = args.benchmarks_root
    if name == "digits":
        return BENCHMARKS[name](per_digit=args.per_digit)
    if name == "geneval":
        return BENCHMARKS[name](args.detector_path, args.clip_path, root, args.object_names,
                                args.geneval_samples, device=args.device)
    if name == "dpg":
        return BENCHMARKS[name](args.vqa_path, args.dpg_csv, root, args.dpg_upstream_compat,
                                device=args.device, answer_rule=args.dpg_answer_rule)
    if name == "wise":
        return BENCHMARKS[name](args.wise_vlm_path, args.wise_url, args.wise_model,
                                args.wise_key_env, args.wise_variant, root, device=args.device)
    return BENCHMARKS[name](args.div_prompts, args.div_k, args.lpips_alexnet, args.lpips_lin,
                            device=args.device)


def settings(args: argparse.Namespace, subset: PromptSubset) -> dict:
    """What makes two calls' scores comparable (checked when they share an --out)."""
    return {"subset": subset.describe(), "seed": args.seed, "style": args.style or "default"}


def prepare(args: argparse.Namespace):
    """Every check that needs no judge: returns (benchmarks, nfes, subset, generator, out)."""
    names = comma_list(args.bench, "bench")
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise BenchmarkInputError(f"--bench {unknown}: unknown; choose from {list(BENCHMARKS)}")
    nfes = parse_nfes(args.nfe)
    subset = PromptSubset.of(args.limit, args.every)
    model = Path(args.model)
    if not model.exists():
        raise BenchmarkInputError(f"--model {model} not found; pass a .ckpt or an export folder")
    benches = [build_benchmark(n, args) for n in names]
    for bench in benches:
        bench.select(subset)
    generator = ModuleGenerator.from_path(model, style=args.style)
    for bench in benches:
        bench.check_images(generator.image_shape)
    out = Path(args.out) if args.out else default_out_dir(model)
    if out.exists() and not out.is_dir():
        raise BenchmarkInputError(f"--out {out} is a file; give a folder")
    claim_out_dir(out, model)
    check_settings(out, settings(args, subset))
    if not args.no_mlflow:
        from twinflow.tracking.store import StoreError, open_store

        try:  # a broken store is refused now, not after the images are generated and judged
            open_store(args.mlflow_uri or default_tracking_uri())
        except StoreError as err:
            raise BenchmarkInputError(str(err)) from None
    return benches, nfes, subset, generator, out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        benches, nfes, subset, generator, out = prepare(args)
    except BenchmarkInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    evaluations: dict[str, list[Evaluation]] = {}
    for bench in benches:
        for nfe in nfes:
            ev = evaluate(bench, generator, out / bench.name / f"nfe{nfe}", nfe, subset,
                          args.seed, progress=not args.no_progress)
            evaluations.setdefault(bench.name, []).append(ev)
            print(f"{bench.name} nfe={nfe}: overall {ev.result.overall:.4f}")
    computed = evaluations
    evaluations = merged(out, evaluations)  # earlier calls' NFEs and benchmarks are kept
    info = {"model": str(Path(args.model).resolve()), "benchmarks": ",".join(evaluations),
            "nfes": ",".join(map(str, sorted({ev.nfe for evs in evaluations.values()
                                               for ev in evs}))),
            **settings(args, subset)}
    results = {**info, "results": {b: {str(ev.nfe): ev.result.to_dict() for ev in evs}
                                   for b, evs in evaluations.items()}}
    results_path = out / "results.json"
    results_path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    report = write_report(out / "report.html", f"TwinFlow evaluation: {args.model}",
                          evaluations, info)
    print(f"wrote {results_path} and {report}")
    if not args.no_mlflow:
        metrics = {k: v for evs in computed.values() for ev in evs
                   for k, v in scalar_metrics(ev.result, metric_prefix(ev.bench, ev.nfe)).items()}
        uri = args.mlflow_uri or default_tracking_uri()
        model = Path(args.model).resolve()
        run_id = log_run(uri, f"{model.parent.name}/{model.name}", info, metrics,
                         [results_path, report], default_artifact_location(uri, out))
        print(f"MLflow run {run_id} at {uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

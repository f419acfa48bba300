"""DPG-Bench as a `Benchmark`: a local VQA model over the question graph `dpg_bench.csv`."""

from __future__ import annotations

from pathlib import Path

from evaluation.benchmarks.base import Benchmark, require_dir, require_file
from evaluation.benchmarks.subset import PromptSubset
from evaluation.dpg import (
    DPGItem,
    DPGPrompt,
    TransformersVQAJudge,
    VQAJudge,
    generate_dpg,
    load_dpg_graph,
    load_dpg_prompts,
    resolve_rule,
    score_dpg,
)
from evaluation.errors import BenchmarkInputError
from evaluation.generation import GenerationReport
from evaluation.generator import ImageGenerator
from evaluation.result import BenchmarkResult


class DPGBenchmark(Benchmark):
    """1,065 dense prompts, 4 tiles per prompt, VQA yes/no over each item's question graph.

    Args:
        vqa_path: local VQA model folder (CLI `--vqa-path`), unless `judge` is given.
        dpg_csv: the question graph `dpg_bench.csv` (CLI `--dpg-csv`); not shipped upstream
            with the prompts, see SOURCES.md.
        prompts_path: `prompts.jsonl`, a `prompts/` folder or a benchmark root (default: shared).
        upstream_compat: score like the upstream script (see `evaluation.dpg.rules`); an
            answer then counts as yes only when it is exactly "yes".
        answer_rule: "exact" or "lenient" (`evaluation.dpg.answers`); default "exact" with
            `upstream_compat`, else "lenient"; recorded in meta["answer_rule"].
        judge: a ready `VQAJudge` (skips `vqa_path`).
        device: torch device of the judge.
    """

    name = "dpg"

    def __init__(
        self,
        vqa_path: str | None = None,
        dpg_csv: str | None = None,
        prompts_path: str | None = None,
        upstream_compat: bool = False,
        judge: VQAJudge | None = None,
        device: str = "cpu",
        answer_rule: str | None = None,
    ) -> None:
        self.answer_rule = resolve_rule(answer_rule, upstream_compat)
        self.vqa_path, self.dpg_csv, self.prompts_path = vqa_path, dpg_csv, prompts_path
        self.upstream_compat, self.judge, self.device = upstream_compat, judge, device
        self._prompts: list[DPGPrompt] | None = None
        self._graph: dict[str, DPGItem] | None = None

    def validate(self) -> None:
        if self.judge is None:
            require_dir(self.vqa_path, "DPG-Bench VQA judge", "--vqa-path")
        csv = require_file(self.dpg_csv, "DPG-Bench question graph dpg_bench.csv", "--dpg-csv")
        if self._prompts is None:
            self._prompts = load_dpg_prompts(self.prompts_path)
        if self._graph is None:
            self._graph = load_dpg_graph(csv, skip_first_row=self.upstream_compat,
                                         validate=not self.upstream_compat)

    def keys(self) -> list[str]:
        self.validate()
        return [p.item_id for p in self._prompts]

    def select(self, subset: PromptSubset | None = None) -> list[int]:
        positions = super().select(subset)
        lacking = [self._prompts[i].item_id for i in positions
                   if self._prompts[i].item_id not in self._graph]
        if lacking and not self.upstream_compat:
            raise BenchmarkInputError(
                f"{len(lacking)} DPG-Bench prompts have no questions in {self.dpg_csv} "
                f"(e.g. {lacking[:3]}); pass the full dpg_bench.csv"
            )
        return positions

    def load_judges(self) -> None:
        if self.judge is None:
            self.judge = TransformersVQAJudge(self.vqa_path, device=self.device,
                                              answer_rule=self.answer_rule)

    def generate(
        self, generator: ImageGenerator, outdir: Path, nfe: int, positions: list[int],
        seed: int, progress: bool,
    ) -> GenerationReport:
        return generate_dpg(generator, self._chosen(positions), outdir, nfe, seed, progress)

    def score(self, outdir: Path, positions: list[int], progress: bool) -> BenchmarkResult:
        self.load_judges()
        ids = [p.item_id for p in self._chosen(positions)]
        return score_dpg(outdir, self._graph, self.judge, ids,
                         upstream_compat=self.upstream_compat, progress=progress)

    def sample_groups(
        self, outdir: Path, positions: list[int], per_group: int
    ) -> dict[str, list[Path]]:
        """Grids by L1 category: an item shows under every category it has questions in."""
        groups: dict[str, list[Path]] = {}
        for p in self._chosen(positions):
            path = outdir / f"{p.item_id}.png"
            item = self._graph.get(p.item_id)
            if item is None or not path.is_file():
                continue
            for category in dict.fromkeys(q.category_broad for q in item.questions):
                paths = groups.setdefault(f"L1/{category}", [])
                if len(paths) < per_group:
                    paths.append(path)
        return dict(sorted(groups.items()))

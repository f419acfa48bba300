"""WISE as a `Benchmark`: a local VLM or an OpenAI-compatible endpoint judges each image."""

from __future__ import annotations

from pathlib import Path

from evaluation.benchmarks.base import Benchmark, require_dir
from evaluation.errors import BenchmarkInputError
from evaluation.generation import GenerationReport
from evaluation.generator import ImageGenerator
from evaluation.result import BenchmarkResult
from evaluation.wise import (
    PROTOCOLS,
    OpenAIChatJudge,
    TransformersVLMJudge,
    WiseJudge,
    WisePrompt,
    aggregate_wise,
    generate_wise,
    judge_folder,
    load_wise_prompts,
)
from evaluation.wise.generate import image_path


class WiseBenchmark(Benchmark):
    """1,000 world-knowledge prompts, one image each, WiScore per category.

    The judge is exactly one of: `vlm_path` (a local image-text-to-text model folder, CLI
    `--wise-vlm-path`), `openai_url` + `openai_model` (an OpenAI-compatible endpoint, CLI
    `--wise-url`/`--wise-model`, key read from `$<api_key_env>`), or a ready `judge`.

    Args:
        variant: "legacy" (paper, 0-2 rubric) or "verified" (binary).
        prompts_path: a benchmark root or the release folder (default: the shared one).
        workers: parallel judge calls (useful for HTTP judges).
        batch_size: prompts per generator call (keep fixed when resuming).
    """

    name = "wise"

    def __init__(
        self,
        vlm_path: str | None = None,
        openai_url: str | None = None,
        openai_model: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        variant: str = "legacy",
        prompts_path: str | None = None,
        judge: WiseJudge | None = None,
        workers: int = 1,
        batch_size: int = 8,
        device: str = "cpu",
    ) -> None:
        self.vlm_path, self.openai_url, self.openai_model = vlm_path, openai_url, openai_model
        self.api_key_env, self.variant, self.prompts_path = api_key_env, variant, prompts_path
        self.judge, self.workers, self.batch_size, self.device = judge, workers, batch_size, device
        self._prompts: list[WisePrompt] | None = None

    def validate(self) -> None:
        if self.variant not in PROTOCOLS:
            raise BenchmarkInputError(f"WISE variant {self.variant!r}; use {sorted(PROTOCOLS)}")
        if self.judge is None:
            given = [self.vlm_path is not None, self.openai_url is not None]
            if sum(given) != 1:
                raise BenchmarkInputError(
                    "WISE needs exactly one judge: pass --wise-vlm-path (a local VLM folder) or "
                    "--wise-url with --wise-model (an OpenAI-compatible endpoint)"
                )
            if self.vlm_path is not None:
                require_dir(self.vlm_path, "WISE VLM judge", "--wise-vlm-path")
            elif not self.openai_model:
                raise BenchmarkInputError("--wise-url needs --wise-model (the served model name)")
        if self._prompts is None:
            self._prompts = load_wise_prompts(self.prompts_path, variant=self.variant)

    def keys(self) -> list[str]:
        self.validate()
        return [str(p.prompt_id) for p in self._prompts]

    def load_judges(self) -> None:
        if self.judge is not None:
            return
        if self.vlm_path is not None:
            self.judge = TransformersVLMJudge(self.vlm_path, device=self.device)
        else:
            self.judge = OpenAIChatJudge(self.openai_url, self.openai_model, self.api_key_env)

    def generate(
        self, generator: ImageGenerator, outdir: Path, nfe: int, positions: list[int],
        seed: int, progress: bool,
    ) -> GenerationReport:
        return generate_wise(generator, self._chosen(positions), outdir, nfe, seed,
                             self.batch_size, progress)

    def score(self, outdir: Path, positions: list[int], progress: bool) -> BenchmarkResult:
        """Judge replies are cached in `<outdir>/judge_<variant>.jsonl` and reused on resume."""
        self.load_judges()
        prompts = self._chosen(positions)
        records = judge_folder(outdir, prompts, self.judge, self.variant, workers=self.workers,
                               cache_path=outdir / f"judge_{self.variant}.jsonl",
                               progress=progress)
        meta = {"judge": self.judge.name, "image_dir": str(outdir)}
        ids = [p.prompt_id for p in prompts]
        return aggregate_wise(records, self.variant, ids, meta)

    def sample_groups(
        self, outdir: Path, positions: list[int], per_group: int
    ) -> dict[str, list[Path]]:
        protocol = PROTOCOLS[self.variant]
        groups: dict[str, list[Path]] = {}
        for p in self._chosen(positions):
            paths = groups.setdefault(protocol.category(p.prompt_id), [])
            if len(paths) < per_group and image_path(outdir, p.prompt_id).is_file():
                paths.append(image_path(outdir, p.prompt_id))
        return groups

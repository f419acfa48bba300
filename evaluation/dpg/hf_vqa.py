"""A transformers VQA model (from a local folder) as a DPG-Bench `VQAJudge`.

Upstream judges with mPLUG-large VQA (ModelScope) and counts an answer as yes only when it
is exactly "yes". Here any `AutoModelForVisualQuestionAnswering` checkpoint works: generative
ones (BLIP VQA, e.g. a local `Salesforce/blip-vqa-base`) are decoded greedily, classifier
ones (ViLT) take the arg-max label. `answer_rule` (`evaluation.dpg.answers`) says when an
answer counts as yes: "exact" (upstream: it equals "yes") or "lenient" (lower-cased and
stripped of surrounding spaces and final punctuation, it equals "yes"; the default).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from evaluation.dpg.answers import lenient_yes, yes_rule
from evaluation.hf_generate import generate_text, load_local, to_device

is_yes = lenient_yes  # the lenient rule under its older name


class TransformersVQAJudge:
    """`VQAJudge` over `AutoProcessor` + `AutoModelForVisualQuestionAnswering`."""

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        max_new_tokens: int = 5,
        answer_rule: str = "lenient",
    ) -> None:
        self.answer_rule, self._is_yes = answer_rule, yes_rule(answer_rule)
        from transformers import AutoModelForVisualQuestionAnswering

        self.processor, self.model = load_local(
            AutoModelForVisualQuestionAnswering, model_path, "VQA model", device, dtype
        )
        self.max_new_tokens = max_new_tokens
        # ViLT-style heads classify over an answer vocabulary and cannot generate.
        self.generative = self.model.config.model_type != "vilt"
        self.name = f"vqa:{os.path.basename(os.path.normpath(model_path))}"

    def raw_answers(self, images: Sequence[np.ndarray], questions: Sequence[str]) -> list[str]:
        """The judge's answer text per (image, question) pair."""
        if not images:
            return []
        if self.generative:
            return generate_text(self.model, self.processor, images, questions, self.max_new_tokens)
        pil = [Image.fromarray(np.asarray(im)).convert("RGB") for im in images]
        inputs = self.processor(images=pil, text=list(questions), return_tensors="pt", padding=True)
        with torch.no_grad():
            logits = self.model(**to_device(inputs, self.model.device, self.model.dtype)).logits
        return [self.model.config.id2label[int(i)] for i in logits.argmax(-1)]

    def answer(self, images: Sequence[np.ndarray], questions: Sequence[str]) -> list[bool]:
        return [self._is_yes(a) for a in self.raw_answers(images, questions)]

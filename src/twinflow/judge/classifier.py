"""The digit judge: a small CNN classifier trained once on the MNIST-5k train split, cached.

It scores generated digits (``metrics.py``): prompt accuracy from its predictions, Fréchet
distance and diversity in its 128-d penultimate feature space.  Training is deterministic
(fixed seed) and takes well under a minute on 2 CPU cores; the weights are cached as
safetensors keyed by the data file and the recipe version.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from twinflow.cache_root import default_cache_dir
from twinflow.data.digits import load_mnist5k, mnist5k_path

RECIPE_VERSION = "cnn-v2"


class DigitClassifier(nn.Module):
    """``(N, 1, 28, 28)`` in ``[-1, 1]`` -> logits ``(N, 10)``; ``features`` gives ``(N, 128)``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
        )
        self.head = nn.Linear(128, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def images_to_input(images: np.ndarray) -> Tensor:
    """``(N, 28, 28[, 1])`` uint8 -> ``(N, 1, 28, 28)`` float in ``[-1, 1]``."""
    arr = np.asarray(images)
    if arr.ndim == 4:
        if arr.shape[-1] != 1:
            raise ValueError(f"the digit judge takes single-channel images, got shape {arr.shape}")
        arr = arr[..., 0]
    if arr.shape[1:] != (28, 28):
        raise ValueError(f"the digit judge takes 28x28 images, got shape {arr.shape}")
    return torch.from_numpy(arr.astype(np.float32))[:, None] / 127.5 - 1


def train_classifier(epochs: int = 12, seed: int = 0) -> DigitClassifier:
    """Train on the 4,000-image train split with light shift augmentation.

    Works from any context: a first use can come from a validation hook, which runs under
    ``torch.inference_mode``; the global RNG is left as it was.
    """
    data = load_mnist5k("train")
    return fit_classifier(DigitClassifier, data.images, data.labels, epochs, seed)


def fit_classifier(
    build: Callable[[], nn.Module],
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    seed: int,
    lr: float = 2e-3,
) -> nn.Module:
    """Cross-entropy with AdamW + one-cycle, batches of 100, random shifts of up to 2 pixels.

    ``build()`` runs right after ``torch.manual_seed(seed)`` (so its init is seeded); the
    global RNG is restored afterwards and ``inference_mode`` of the caller is lifted.
    """
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        return _fit(build, images, labels, epochs, seed, lr)


def _fit(build, images, labels, epochs: int, seed: int, lr: float) -> nn.Module:
    x, y = images_to_input(images), torch.as_tensor(labels)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * len(y) // 100)
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 100):
            idx = perm[i : i + 100]
            shift = torch.randint(-2, 3, (2,), generator=g).tolist()
            xb = torch.roll(x[idx], shifts=shift, dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def cached_model(
    name: str, build: Callable[[], nn.Module], train: Callable[[], nn.Module],
    cache_dir: str | Path | None = None,
) -> nn.Module:
    """``<cache>/<name>_<data digest>.safetensors`` if present, else ``train()`` and save it.

    Either way the global RNG is left as it was, so a fit that loads the judges (a scoring
    callback's setup) trains alike whether or not they were cached."""
    path = cache_path(cache_dir, name)
    if path.is_file():
        with torch.random.fork_rng(devices=[]):  # build()'s default init draws from it
            model = build()
        model.load_state_dict(load_file(path))
        return model.eval()
    model = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    from twinflow.data.latent_cache import temp_name
    from twinflow.file_modes import honour_umask

    tmp = temp_name(path)
    save_file(model.state_dict(), tmp)
    honour_umask(tmp)  # safetensors makes 0600; a shared cache is read by the group too
    os.replace(tmp, path)  # two first users at once: each writes its own file, one wins
    return model


def cache_path(cache_dir: str | Path | None, name: str) -> Path:
    """``<cache>/<name>_<digest of the MNIST-5k file>.safetensors`` (default cache folder:
    ``$TWINFLOW_CACHE``)."""
    digest = hashlib.sha256(mnist5k_path().read_bytes()).hexdigest()[:12]
    return (Path(cache_dir) if cache_dir else default_cache_dir()) / f"{name}_{digest}.safetensors"


def load_or_train_classifier(cache_dir: str | Path | None = None) -> DigitClassifier:
    """The cached judge, trained on first use."""
    return cached_model(f"digit_judge_{RECIPE_VERSION}", DigitClassifier, train_classifier,
                        cache_dir)

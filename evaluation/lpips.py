"""LPIPS (Zhang et al. 2018, v0.1, AlexNet) in plain torch, weights from local files.

torchmetrics' LPIPS needs torchvision, which is not importable here, so the network is
rebuilt with the same module indices as `torchvision.models.alexnet().features`:

    x in [-1, 1] -> (x - shift) / scale, shift = (-.030, -.088, -.188), scale = (.458, .448, .450)
    taps f_l, l = 1..5: the ReLU outputs after conv1..conv5 (64, 192, 384, 256, 256 channels)
    n_l = f_l / (||f_l||_2 over channels + 1e-10)
    d(x, y) = sum_l mean_{h,w} sum_c w_{l,c} (n_l(x) - n_l(y))^2

Expected weight files (documented format):
* `alexnet_path`: a torchvision AlexNet state dict (e.g. `alexnet-owt-7be5be79.pth`); only the
  `features.{0,3,6,8,10}.{weight,bias}` entries are used.
* `lin_path`: the lpips v0.1 linear-head state dict (`lpips/weights/v0.1/alex.pth` of the lpips
  package): `lin{0..4}.model.1.weight`, shapes (1, C_l, 1, 1), non-negative.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from evaluation.errors import BenchmarkInputError

CHANNELS: tuple[int, ...] = (64, 192, 384, 256, 256)
_TAPS = (1, 4, 7, 9, 11)  # indices of the ReLUs after each conv in torchvision's `features`
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def alexnet_features() -> nn.Sequential:
    """torchvision's `alexnet().features`, same layout and parameter names."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=False), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=False), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=False),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=False),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=False), nn.MaxPool2d(3, 2),
    )


def normalize_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """x / (sqrt(sum_c x^2) + eps) for x of shape (N, C, H, W)."""
    return x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def lpips_from_features(
    feats_x: Sequence[torch.Tensor], feats_y: Sequence[torch.Tensor], lin: Sequence[torch.Tensor]
) -> torch.Tensor:
    """sum_l mean_hw sum_c w_lc (n(fx_l) - n(fy_l))^2.

    feats: per layer (N, C_l, H_l, W_l); lin: per layer (C_l,); returns (N,).
    """
    total = torch.zeros(feats_x[0].shape[0], dtype=feats_x[0].dtype, device=feats_x[0].device)
    for fx, fy, w in zip(feats_x, feats_y, lin, strict=True):
        diff = (normalize_channels(fx) - normalize_channels(fy)).pow(2)
        total = total + (diff * w.view(1, -1, 1, 1)).sum(dim=1).mean(dim=(1, 2))
    return total


class LPIPS(nn.Module):
    """The LPIPS distance; `forward(x, y)` takes (N, 3, H, W) in [-1, 1] and returns (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = alexnet_features()
        self.lin = nn.ParameterList(nn.Parameter(torch.zeros(c)) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, out = (x - self.shift) / self.scale, []
        for index, layer in enumerate(self.features[: _TAPS[-1] + 1]):
            h = layer(h)
            if index in _TAPS:
                out.append(h)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return lpips_from_features(self.taps(x), self.taps(y), list(self.lin))

    def load_weights(self, alexnet: dict[str, torch.Tensor], lin: dict[str, torch.Tensor]) -> None:
        """Load the two documented state dicts; raises BenchmarkInputError on a wrong format."""
        feats = {k[len("features."):]: v for k, v in alexnet.items() if k.startswith("features.")}
        try:
            self.features.load_state_dict(feats, strict=True)
        except RuntimeError as err:
            raise BenchmarkInputError(
                "alexnet weights are not a torchvision AlexNet state dict (features.N.*); "
                f"pass alexnet-owt-*.pth ({str(err).splitlines()[0]})"
            ) from None
        for i, channels in enumerate(CHANNELS):
            key = f"lin{i}.model.1.weight"
            if key not in lin or tuple(lin[key].shape) != (1, channels, 1, 1):
                raise BenchmarkInputError(
                    f"LPIPS head lacks {key} of shape (1, {channels}, 1, 1); "
                    "pass lpips v0.1 alex.pth"
                )
            self.lin[i].data.copy_(lin[key].reshape(-1))


def _load_state(path: str | os.PathLike[str], what: str) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise BenchmarkInputError(f"{what} weights {path} not found; pass a local .pth file")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise BenchmarkInputError(f"{what} weights {path} are not a state dict; re-export them")
    return state


def load_lpips(
    alexnet_path: str | os.PathLike[str], lin_path: str | os.PathLike[str]
) -> LPIPS:
    """An eval-mode `LPIPS` with weights from the two local files (see module docstring)."""
    model = LPIPS()
    model.load_weights(_load_state(alexnet_path, "AlexNet"), _load_state(lin_path, "LPIPS head"))
    return model.eval().requires_grad_(False)

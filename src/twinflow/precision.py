"""bf16 mixed precision where bf16 pays on the hardware, fp32 elsewhere.

On a CPU whose bf16 units run at twice the fp32 rate, bf16 autocast cuts the digits U-Net's
step by about 1.6x (it is compute-bound at the fp32 peak there); on a CPU without bf16 units
the same autocast is emulated and several times *slower*, and on some CPUs that report bf16
units it is still slower than fp32. A config therefore cannot name one precision that is fast
on every machine of a kind: ``NativeBF16Precision`` decides when the run starts
(:func:`twinflow.bf16_units.bf16_enabled`: the flags, then a measurement kept per machine),
logs the decision once, and is otherwise Lightning's ``MixedPrecision("bf16-mixed")``.
Results then differ between machines that decide differently by bf16 round-off (each is
deterministic).

Use it in a config::

    trainer:
      plugins:
        - class_path: twinflow.precision.NativeBF16Precision
          init_args: {device: cpu}

``TWINFLOW_BF16=0`` forces fp32 and ``TWINFLOW_BF16=1`` forces bf16 (e.g. to compare).
"""

from __future__ import annotations

import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from lightning.pytorch.utilities import rank_zero_info

from twinflow.bf16_units import bf16_enabled, reason


class NativeBF16Precision(MixedPrecision):
    """``bf16-mixed`` autocast on ``device`` where bf16 pays (see ``twinflow.bf16_units``),
    else plain fp32.

    Args:
        device: the autocast device type of the run's accelerator, ``"cpu"`` or ``"cuda"``
            (checked against the loss's device at every backward).
    """

    def __init__(self, device: str = "cpu") -> None:
        if device not in ("cpu", "cuda"):
            raise ValueError(f"NativeBF16Precision(device={device!r}): use 'cpu' or 'cuda'")
        super().__init__(precision="bf16-mixed", device=device)
        self.enabled = bf16_enabled(device)
        # What Lightning reports as trainer.precision (and the run's MLflow `precision` tag).
        self.precision = "bf16-mixed" if self.enabled else "32-true"
        self.reason = reason(device)
        # Lightning's own logger, so the decision shows beside "Seed set to ..." (rank 0)
        rank_zero_info(f"precision: {self.precision} on {device} ({self.reason})")

    def pre_backward(self, tensor: torch.Tensor, module) -> torch.Tensor:
        # autocast on another device type than the run's would silently train in fp32.
        if tensor.device.type != self.device:
            raise ValueError(
                f"NativeBF16Precision(device={self.device!r}) in a run on "
                f"{tensor.device.type}: set its init_args.device to {tensor.device.type!r}")
        return super().pre_backward(tensor, module)

    def autocast_context_manager(self) -> torch.autocast:
        return torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.enabled,
                              cache_enabled=False)


def precision_tags(trainer) -> dict[str, str]:
    """The run's resolved precision (``precision``) and, under :class:`NativeBF16Precision`,
    why (``precision_decision``): MLflow tags, since the config only names the plugin."""
    tags = {"precision": str(trainer.precision)}
    if isinstance(trainer.precision_plugin, NativeBF16Precision):
        tags["precision_decision"] = trainer.precision_plugin.reason
    return tags


__all__ = ["NativeBF16Precision", "precision_tags"]

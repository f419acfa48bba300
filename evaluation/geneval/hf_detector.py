"""Mask2Former instance segmentation (transformers) as a GenEval `ObjectDetector`.

GenEval's reference detector is mmdet's Mask2Former Swin-S COCO instance model; the HF port
(e.g. a local copy of `facebook/mask2former-swin-small-coco-instance`) is loaded here from a
local folder only. Post-processing follows mmdet's instance head rather than transformers'
`post_process_instance_segmentation` (which resizes masks to a fixed 384x384):

    p = softmax(class_logits)[:, :-1]                 (Q, C), the last class is "no object"
    top-k of p over all (query, class) pairs, k = min(max_per_image, Q*C)
    m = mask logits of the chosen query, upsampled to the network input, cropped to the valid
        (unpadded) region, resized to the original (H, W); mask = m > 0
    score = p * mean(sigmoid(m) over mask);  box = tight box of the mask (x2, y2 exclusive)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from evaluation.errors import BenchmarkInputError
from evaluation.geneval.rules import Detection


class Mask2FormerDetector:
    """`ObjectDetector` over `Mask2FormerForUniversalSegmentation` + its image processor.

    `class_names` maps label ids to GenEval class names (default: the model's `id2label`);
    pass `object_names.txt` lines when the checkpoint spells COCO names differently.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        class_names: Sequence[str] | None = None,
        device: str | torch.device = "cpu",
        max_per_image: int = 100,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        from transformers import AutoImageProcessor, Mask2FormerForUniversalSegmentation

        if not os.path.isdir(model_path):
            raise BenchmarkInputError(
                f"Mask2Former folder {model_path} not found; pass a local save_pretrained folder"
            )
        self.processor = AutoImageProcessor.from_pretrained(model_path, local_files_only=True)
        self.model = Mask2FormerForUniversalSegmentation.from_pretrained(
            model_path, local_files_only=True, dtype=dtype
        )
        self.model.to(device).eval()
        self.device = torch.device(device)
        n_labels = self.model.config.num_labels
        names = list(class_names) if class_names is not None else [
            self.model.config.id2label[i] for i in range(n_labels)
        ]
        if len(names) != n_labels:
            raise BenchmarkInputError(
                f"{len(names)} class names for a {n_labels}-class model; pass one name per label"
            )
        self.class_names = names
        self.max_per_image = max_per_image
        self.name = f"mask2former:{os.path.basename(os.path.normpath(model_path))}"

    @torch.no_grad()
    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """All top-k instances per (H, W, 3) uint8 image; thresholds are the scorer's job."""
        if not images:
            return []
        inputs = self.processor(images=list(images), return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.device, self.model.dtype)
        pixel_mask = inputs.get("pixel_mask")
        out = self.model(pixel_values=pixel_values)
        results = []
        for i, image in enumerate(images):
            valid = None if pixel_mask is None else pixel_mask[i].bool()
            results.append(
                self._instances(
                    out.class_queries_logits[i].float(),
                    out.masks_queries_logits[i].float(),
                    tuple(pixel_values.shape[-2:]),
                    valid,
                    image.shape[:2],
                )
            )
        return results

    def _instances(
        self,
        class_logits: torch.Tensor,
        mask_logits: torch.Tensor,
        input_hw: tuple[int, int],
        valid: torch.Tensor | None,
        image_hw: tuple[int, int],
    ) -> list[Detection]:
        probs = class_logits.softmax(-1)[:, :-1]
        n_queries, n_classes = probs.shape
        k = min(self.max_per_image, n_queries * n_classes)
        scores, flat = probs.flatten().topk(k)
        queries, labels = flat // n_classes, flat % n_classes
        masks = F.interpolate(mask_logits[queries][None], size=input_hw, mode="bilinear")[0]
        if valid is not None:
            rows, cols = valid.any(1).nonzero(), valid.any(0).nonzero()
            masks = masks[:, : int(rows.max()) + 1, : int(cols.max()) + 1]
        masks = F.interpolate(masks[None], size=tuple(image_hw), mode="bilinear")[0]
        binary = masks > 0
        area = binary.flatten(1).sum(1)
        mask_score = (masks.sigmoid() * binary).flatten(1).sum(1) / (area + 1e-6)
        final = (scores * mask_score).cpu().numpy()
        binary_np = binary.cpu().numpy()
        detections = []
        for j in np.argsort(-final, kind="stable"):
            if area[j] == 0:
                continue  # an empty mask has no box and scores 0 anyway
            ys, xs = np.nonzero(binary_np[j])
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
            cls = self.class_names[int(labels[j])]
            detections.append(Detection(cls, float(final[j]), box, binary_np[j]))
        return detections

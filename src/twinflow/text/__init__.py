"""Token-level prompt conditioners reproducing diffusers pipelines' prompt encoding.

* :class:`QwenImageConditioner`: Qwen2.5-VL last hidden states, as ``QwenImagePipeline``.
* :class:`SanaConditioner`: Gemma-2 last hidden states, as ``SanaPipeline``.

Both load their text encoder lazily from a local folder; nothing is downloaded.
"""

from twinflow.text.qwen_image import QwenImageConditioner
from twinflow.text.sana import SANA_COMPLEX_HUMAN_INSTRUCTION, SanaConditioner

__all__ = ["QwenImageConditioner", "SanaConditioner", "SANA_COMPLEX_HUMAN_INSTRUCTION"]

"""The WISE judge interface and the instruction it is given.

The instructions are written for this project (not upstream's text) but ask for the same
rubric and the same reply format, so `parse.py` reads both our judges and upstream logs.
Pass `instruction=` to a judge to use another template; it is formatted with
`{prompt}` and `{explanation}`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from evaluation.wise.prompts import WisePrompt

SYSTEM = "You are a strict, consistent auditor of text-to-image generation quality."

LEGACY_INSTRUCTION = """Rate the attached image against the prompt below. Be strict: a 2 \
is rare and means flawless.

Consistency (0-2): does the image show exactly what the prompt means, including the world \
knowledge the explanation spells out? 0 = misses or contradicts key elements, 1 = partly \
right, 2 = every element and nuance is right.
Realism (0-2): 0 = physically implausible or clearly artificial, 1 = believable with \
noticeable flaws, 2 = indistinguishable from a real photograph.
Aesthetic Quality (0-2): 0 = poor composition and appeal, 1 = acceptable, 2 = exceptional.

PROMPT: "{prompt}"
EXPLANATION: "{explanation}"

Reply with exactly three lines and nothing else:
Consistency: <0-2>
Realism: <0-2>
Aesthetic Quality: <0-2>"""

VERIFIED_INSTRUCTION = """Judge whether the attached image correctly realises the prompt \
below, using the explanation as the intended world-knowledge answer.

Score 1 only if the image shows the intended answer with the right key objects, attributes \
and relations, and is realistic and clear enough to verify. Score 0 if the knowledge-based \
answer is missing or wrong, a key relation is wrong, the image is too ambiguous or broken to \
judge, or generation failures interfere.

PROMPT: "{prompt}"
EXPLANATION: "{explanation}"

Reply with one line and nothing else:
Score: <0 or 1>"""

INSTRUCTIONS = {"legacy": LEGACY_INSTRUCTION, "verified": VERIFIED_INSTRUCTION}


def build_instruction(prompt: WisePrompt, protocol: str, template: str | None = None) -> str:
    """The user text for one image: the protocol's template filled with prompt + explanation."""
    text = template if template is not None else INSTRUCTIONS[protocol]
    return text.format(prompt=prompt.prompt, explanation=prompt.explanation)


class WiseJudge(Protocol):
    name: str

    def judge(self, image: np.ndarray, prompt: WisePrompt, protocol: str) -> str:
        """The judge's raw reply for one (H, W, 3) uint8 image under `protocol`."""

"""WISE (PKU-YuanGroup/WISE): world-knowledge prompts judged by a VLM, legacy and verified.

(a) generate: `generate_wise(generator, load_wise_prompts(variant=...), outdir, nfe)`
(b) score:    `score_wise(outdir, prompts, OpenAIChatJudge(url, model), protocol=variant)`
"""

from evaluation.wise.generate import generate_wise
from evaluation.wise.hf_judge import TransformersVLMJudge
from evaluation.wise.judges import WiseJudge, build_instruction
from evaluation.wise.openai_judge import OpenAIChatJudge
from evaluation.wise.parse import LegacyScores, WiseParseError, parse_legacy, parse_verified
from evaluation.wise.prompts import WisePrompt, load_wise_prompts
from evaluation.wise.protocol import LEGACY, PROTOCOLS, VERIFIED, WiseProtocol, wiscore
from evaluation.wise.score import aggregate_wise, category_means, judge_folder, score_wise

__all__ = [
    "LEGACY",
    "PROTOCOLS",
    "VERIFIED",
    "LegacyScores",
    "OpenAIChatJudge",
    "TransformersVLMJudge",
    "WiseJudge",
    "WiseParseError",
    "WisePrompt",
    "WiseProtocol",
    "aggregate_wise",
    "build_instruction",
    "category_means",
    "generate_wise",
    "judge_folder",
    "load_wise_prompts",
    "parse_legacy",
    "parse_verified",
    "score_wise",
    "wiscore",
]

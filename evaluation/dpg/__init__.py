"""DPG-Bench (TencentQQGYLab/ELLA): dense prompts scored by VQA over a question graph.

(a) generate: `generate_dpg(generator, load_dpg_prompts(), outdir, nfe)`
(b) score:    `score_dpg(outdir, load_dpg_graph(csv), TransformersVQAJudge(path))`
"""

from evaluation.dpg.answers import ANSWER_RULES, exact_yes, lenient_yes, resolve_rule
from evaluation.dpg.generate import generate_dpg
from evaluation.dpg.graph import DPGItem, DPGQuestion, load_dpg_graph
from evaluation.dpg.hf_vqa import TransformersVQAJudge, is_yes
from evaluation.dpg.judges import VQAJudge
from evaluation.dpg.prompts import DPGPrompt, load_dpg_prompts
from evaluation.dpg.rules import ItemScore, score_item, zero_children, zero_children_in_order
from evaluation.dpg.score import aggregate, score_dpg

__all__ = [
    "ANSWER_RULES",
    "DPGItem",
    "DPGPrompt",
    "DPGQuestion",
    "ItemScore",
    "TransformersVQAJudge",
    "VQAJudge",
    "aggregate",
    "exact_yes",
    "generate_dpg",
    "is_yes",
    "lenient_yes",
    "load_dpg_graph",
    "load_dpg_prompts",
    "resolve_rule",
    "score_dpg",
    "score_item",
    "zero_children",
    "zero_children_in_order",
]

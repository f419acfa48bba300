"""WISE: readers, reply parsing (both formats), WiScore, categories/weights, completeness,
generation, the OpenAI-compatible judge against a local fake server, a tiny local VLM."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from evaluation.errors import BenchmarkInputError
from evaluation.wise import (
    LEGACY,
    VERIFIED,
    OpenAIChatJudge,
    TransformersVLMJudge,
    WiseParseError,
    WisePrompt,
    aggregate_wise,
    generate_wise,
    judge_folder,
    load_wise_prompts,
    parse_legacy,
    parse_verified,
    score_wise,
    wiscore,
)

LEGACY_CATEGORY = {"Cultural knowledge": "cultural", "time": "time", "Space": "space",
                   "Biology": "biology", "Physical Knowledge": "physics", "Chemistry": "chemistry"}


@pytest.mark.parametrize("variant,kw", [("legacy", {}), ("legacy", {"rewrite": True}),
                                        ("verified", {}), ("verified", {"use_merge": False})])
def test_readers_counts_and_category_ranges(benchmark_root, variant, kw):
    prompts = load_wise_prompts(benchmark_root, variant=variant, **kw)
    assert [p.prompt_id for p in prompts] == list(range(1, 1001))
    proto = LEGACY if variant == "legacy" else VERIFIED
    # The id ranges of the protocol agree with the Category field of the data.
    mismatched = [p.prompt_id for p in prompts
                  if LEGACY_CATEGORY.get(p.category, "?") != proto.category(p.prompt_id)]
    assert len(mismatched) <= (1 if kw.get("rewrite") else 0)  # one rewrite row says "Ecology"
    counts = Counter(proto.category(p.prompt_id) for p in prompts)
    assert counts == {k: round(w * 1000) for k, w in proto.weights.items()}


def test_verified_split_equals_merge(benchmark_root):
    assert load_wise_prompts(benchmark_root, "verified") == load_wise_prompts(
        benchmark_root, "verified", use_merge=False)


def test_reader_errors(tmp_path):
    with pytest.raises(BenchmarkInputError, match="not found"):
        load_wise_prompts(tmp_path)
    (tmp_path / "merge.json").write_text(json.dumps([{"prompt_id": 1}]))
    with pytest.raises(BenchmarkInputError, match="lacks"):
        load_wise_prompts(tmp_path, "verified")


@pytest.mark.parametrize("text,expected", [
    ("Consistency: 2\nRealism: 1\nAesthetic Quality: 0", (2, 1, 0)),
    ("**Consistency**: 1\n**Realism**: 2\n**Aesthetic Quality**: 2", (1, 2, 2)),
    ("Consistency：0 Realism：0 Aesthetic Quality：1", (0, 0, 1)),
    ("Consistency (0-2): 2\nRealism (0-2): 2\nAesthetic_Quality (0-2): 1", (2, 2, 1)),
    ("### Consistency\n2\n### Realism\n1\n### Aesthetic quality\n1", (2, 1, 1)),
    ("Consistency: 1 ... on reflection:\nConsistency: 0\nRealism: 2/2\nAesthetic Quality: 1.0",
     (0, 2, 1)),
])
def test_parse_legacy(text, expected):
    s = parse_legacy(text)
    assert (s.consistency, s.realism, s.aesthetic_quality) == expected


@pytest.mark.parametrize("text", ["Consistency: 2\nRealism: 1", "Consistency: 3\nRealism: 1\n"
                                  "Aesthetic Quality: 1", "I cannot rate this image."])
def test_parse_legacy_rejects(text):
    with pytest.raises(WiseParseError):
        parse_legacy(text)


def test_parse_verified():
    assert parse_verified("Score: 1") == 1
    assert parse_verified("**Score**: 0") == 0
    assert parse_verified("Reasoning... tentative score: 0. Final\nScore: 1") == 1
    for bad in ["Score: 2", "yes"]:
        with pytest.raises(WiseParseError):
            parse_verified(bad)


def test_wiscore_and_protocol_scores():
    assert wiscore(2, 2, 2) == pytest.approx(1.0)
    assert wiscore(2, 0, 0) == pytest.approx(0.7)
    assert wiscore(1, 1, 1) == pytest.approx(0.5)
    assert LEGACY.score("Consistency: 2\nRealism: 1\nAesthetic Quality: 0")[0] == pytest.approx(0.8)
    assert VERIFIED.score("Score: 1") == (1.0, {"score": 1.0})
    assert sum(LEGACY.weights.values()) == pytest.approx(1.0)
    assert sum(VERIFIED.weights.values()) == pytest.approx(1.0)


def _records(proto, value_of):
    return [{"prompt_id": i, "category": proto.category(i), "wiscore": value_of(i)}
            for i in range(1, 1001)]


def test_aggregate_weights_and_categories():
    # Legacy: cultural 1.0, time 0.5, everything else 0 -> 0.4 + 0.167 * 0.5.
    result = aggregate_wise(_records(LEGACY, lambda i: 1.0 if i <= 400 else 0.5 if i <= 567
                                     else 0.0), "legacy")
    assert result.per_tag["cultural"] == 1.0 and result.per_tag["time"] == 0.5
    assert result.overall == pytest.approx(0.4 + 0.167 * 0.5)
    # Verified: id 520 is time, 521 space.
    verified = aggregate_wise(_records(VERIFIED, lambda i: float(i == 521)), "verified")
    assert verified.per_tag["space"] == pytest.approx(1 / 120)
    assert verified.overall == pytest.approx(0.12 / 120)


def test_incomplete_set_is_refused():
    records = [r for r in _records(LEGACY, lambda i: 1.0) if r["prompt_id"] % 40 != 0]
    records[0]["wiscore"] = None
    with pytest.raises(BenchmarkInputError, match=r"26 lack a parsed score \(first 20: \[1, 40,"):
        aggregate_wise(records, "legacy")


class FakeChatServer(BaseHTTPRequestHandler):
    replies: list[str] = []
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeChatServer.seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                    "body": body})
        reply = FakeChatServer.replies.pop(0)
        if reply == "HTTP503":
            self.send_response(503)
            self.end_headers()
            return
        data = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = HTTPServer(("127.0.0.1", 0), FakeChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeChatServer.replies, FakeChatServer.seen = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _prompts(n=3):
    return [WisePrompt(i, f"prompt {i}", f"expl {i}", "Cultural knowledge", "Festival")
            for i in range(1, n + 1)]


def test_generation_and_openai_judge(chat_server, fake_generator, tmp_path, monkeypatch):
    prompts = _prompts()
    report = generate_wise(fake_generator, prompts, tmp_path, nfe=1, batch_size=2, progress=False)
    assert report.jobs_run == 2 and sorted(p.name for p in tmp_path.iterdir()) == [
        "1.png", "2.png", "3.png"]
    assert [c[2] for c in fake_generator.calls] == [0, 1]
    monkeypatch.setenv("WISE_TEST_KEY", "sk-secret-123")
    judge = OpenAIChatJudge(chat_server, "judge-model", api_key_env="WISE_TEST_KEY", backoff_s=0)
    FakeChatServer.replies = ["HTTP503", "Consistency: 2\nRealism: 2\nAesthetic Quality: 2",
                              "garbled", "Consistency: 1\nRealism: 1\nAesthetic Quality: 1",
                              "Consistency: 0\nRealism: 0\nAesthetic Quality: 0"]
    cache = tmp_path / "judge.jsonl"
    records = judge_folder(tmp_path, prompts, judge, "legacy", cache_path=cache, progress=False)
    assert [r["wiscore"] for r in records] == pytest.approx([1.0, 0.5, 0.0])
    seen = FakeChatServer.seen[1]
    assert seen["path"] == "/v1/chat/completions" and seen["auth"] == "Bearer sk-secret-123"
    content = seen["body"]["messages"][1]["content"]
    assert "prompt 1" in content[0]["text"] and content[1]["image_url"]["url"].startswith(
        "data:image/png;base64,")
    assert "sk-secret" not in repr(judge) + json.dumps(records) + cache.read_text()
    # Incomplete against the full 1000-id set; the cache makes the rerun free.
    with pytest.raises(BenchmarkInputError, match="997 lack"):
        score_wise(tmp_path, prompts, judge, "legacy", cache_path=cache, progress=False)
    assert FakeChatServer.replies == []
    subset = score_wise(tmp_path, prompts, judge, "legacy", expected_ids=[1, 2, 3],
                        cache_path=cache, progress=False)
    assert subset.per_tag["cultural"] == pytest.approx(0.5) and subset.per_item == records


def test_openai_judge_clear_errors(chat_server, tmp_path):
    judge = OpenAIChatJudge(chat_server, "m", retries=0)
    FakeChatServer.replies = ["HTTP503"]
    with pytest.raises(BenchmarkInputError, match="HTTP 503"):
        judge.judge(np.zeros((4, 4, 3), np.uint8), _prompts(1)[0], "verified")
    dead = OpenAIChatJudge("http://127.0.0.1:9/v1", "m", retries=0, timeout_s=2)
    with pytest.raises(BenchmarkInputError, match="unreachable"):
        dead.judge(np.zeros((4, 4, 3), np.uint8), _prompts(1)[0], "verified")


def test_tiny_local_vlm_judge(tiny_blip_captioner_dir):
    judge = TransformersVLMJudge(tiny_blip_captioner_dir, max_new_tokens=4)
    text = judge.judge(np.zeros((20, 20, 3), np.uint8), _prompts(1)[0], "verified")
    assert isinstance(text, str)
    assert "Score: <0 or 1>" in judge.text_for(_prompts(1)[0], "verified")

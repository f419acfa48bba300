"""Download the benchmark prompt files at the pinned upstream commits and verify sha256.

    python -m evaluation.fetch --dest DIR

Layout and provenance follow `shared/benchmarks/SOURCES.md`. GenEval and WISE files are
byte copies of raw GitHub blobs; DPG-Bench's `prompts/<item_id>.txt` names come from the
GitHub tree API at the pinned commit, and `dpg_bench/prompts.jsonl` is built from them
(numeric ids ascending, then named ids sorted; `{"item_id", "prompt"}` per line, raw text,
non-ASCII kept). The .txt files are verified together through the hash of that jsonl.
`dpg_bench.csv` is not fetched (see SOURCES.md). Nothing is written unless all hashes match.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from evaluation.dpg.prompts import item_order
from evaluation.errors import BenchmarkInputError

Fetch = Callable[[str], bytes]

GENEVAL = ("djghosh13/geneval", "af4902f24d3ca90ebbb446dd9891a59e0f82725f")
ELLA = ("TencentQQGYLab/ELLA", "3c228f1dc6c4d3cad0a47493816151a419f14db3")
WISE = ("PKU-YuanGroup/WISE", "eb51174483a5de2e34e8614cf9dfb3319ee7fcd0")
DPG_PROMPTS_DIR = "dpg_bench/prompts"

# local path -> (repository, commit, upstream path)
FILES: dict[str, tuple[str, str, str]] = {
    "geneval/evaluation_metadata.jsonl": (*GENEVAL, "prompts/evaluation_metadata.jsonl"),
    "geneval/generation_prompts.txt": (*GENEVAL, "prompts/generation_prompts.txt"),
    "geneval/object_names.txt": (*GENEVAL, "prompts/object_names.txt"),
    **{
        f"wise/legacy/{name}.json": (*WISE, f"WISE_legacy/data/{name}.json")
        for name in (
            "cultural_common_sense", "spatio-temporal_reasoning", "natural_science",
            "cultural_common_sense_rewrite", "spatio-temporal_reasoning_rewrite",
            "natural_science_rewrite",
        )
    },
    **{
        f"wise/verified/{name}.json": (*WISE, f"data_verified/{name}.json")
        for name in (
            "cultural_common_sense_verified", "spatio-temporal_reasoning_verified",
            "natural_science_verified", "merge",
        )
    },
}

SHA256: dict[str, str] = {
    "geneval/evaluation_metadata.jsonl":
        "5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13",
    "geneval/generation_prompts.txt":
        "55b6e3650e980c13daf30569eb666e000faf19bfc2b7b4cbe999fcdb7aa9d680",
    "geneval/object_names.txt":
        "608f6a0e5c8ca1c7a92b818430141fe268c85b7930b50f4160f1d65893b5bacd",
    "wise/legacy/cultural_common_sense.json":
        "7a59216c768698280cea37caa574b52f3faf054d73b398b9bb6b3161baf8e3aa",
    "wise/legacy/cultural_common_sense_rewrite.json":
        "4383290c349703776c24cfa864bfa3e065dae2e3f408cf46af702f2b7affea9f",
    "wise/legacy/natural_science.json":
        "b262fae58e413c7a4bd3c3d5a089f8c6529feac227e4b6606be261a949035544",
    "wise/legacy/natural_science_rewrite.json":
        "6aee690e100ffb65b292de3fbe35ce89fa1ca2b92063a99d227d04eaa51af2b3",
    "wise/legacy/spatio-temporal_reasoning.json":
        "e27d797885ad86e64d857d0cc93d33e04be572a8dcae95692a2c7e7876233f9a",
    "wise/legacy/spatio-temporal_reasoning_rewrite.json":
        "f63c98fff301e81c3ca6d3918683fb49757c3159d9b9e45dda8b2c9cf6a75d64",
    "wise/verified/cultural_common_sense_verified.json":
        "23482925266e2784b2ba24b75239fdc6691bf85ae253d2c4aa38b71b45fefa89",
    "wise/verified/merge.json":
        "10f2690624ed8f03f21bd3e9c535e26f791da8bab67ac857903bede65985b82d",
    "wise/verified/natural_science_verified.json":
        "6f346c336f16f611e5c73e0fcacdccb336c200d534cf111526b22d50ea912555",
    "wise/verified/spatio-temporal_reasoning_verified.json":
        "42c0b9d829365e392c2d4af283850dc76b1f922ab0c79198366de4f306eaf2b6",
    "dpg_bench/prompts.jsonl":
        "5d200de6433e769cd4d1866104fc63e3986eab0a9dfa535ffdf5e5154020fe9f",
}  # full hashes, from shared/benchmarks/SHA256SUMS


def raw_url(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def tree_url(repo: str, commit: str) -> str:
    return f"https://api.github.com/repos/{repo}/git/trees/{commit}?recursive=1"


def http_get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "twinflow-evaluation-fetch"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_dpg_jsonl(prompts: dict[str, bytes]) -> bytes:
    """`prompts.jsonl` bytes from {item_id: raw .txt bytes}, in SOURCES.md order."""
    lines = [
        json.dumps({"item_id": key, "prompt": prompts[key].decode("utf-8")}, ensure_ascii=False)
        for key in sorted(prompts, key=item_order)
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def dpg_prompt_names(fetch: Fetch) -> list[str]:
    """The `<item_id>.txt` names under dpg_bench/prompts/ at the pinned ELLA commit."""
    tree = json.loads(fetch(tree_url(*ELLA)))
    prefix = DPG_PROMPTS_DIR + "/"
    names = [
        entry["path"][len(prefix):] for entry in tree.get("tree", [])
        if entry.get("type") == "blob" and entry["path"].startswith(prefix)
        and entry["path"].endswith(".txt") and "/" not in entry["path"][len(prefix):]
    ]
    if tree.get("truncated") or not names:
        raise BenchmarkInputError("GitHub tree of ELLA prompts is empty or truncated; retry later")
    return names


def verify(files: dict[str, bytes]) -> None:
    """Raise BenchmarkInputError naming every file whose sha256 is not the pinned one."""
    bad = [
        f"{path} (expected {SHA256[path][:16]}, got {sha256(data)[:16]})"
        for path, data in files.items() if path in SHA256 and sha256(data) != SHA256[path]
    ]
    if bad:
        raise BenchmarkInputError(
            f"sha256 mismatch: {'; '.join(bad)}; upstream changed or the download is corrupt, "
            "check the pinned commits in SOURCES.md"
        )


def fetch_benchmarks(dest: str | Path, fetch: Fetch = http_get) -> list[Path]:
    """Download, verify, then move everything into `dest` (existing files are replaced).

    `fetch(url) -> bytes` is injectable for tests and mirrors. Returns the written paths.
    """
    files = {local: fetch(raw_url(*source)) for local, source in FILES.items()}
    txt = {
        Path(name).stem: fetch(raw_url(*ELLA, f"{DPG_PROMPTS_DIR}/{name}"))
        for name in dpg_prompt_names(fetch)
    }
    files["dpg_bench/prompts.jsonl"] = build_dpg_jsonl(txt)
    verify(files)
    files.update({f"{DPG_PROMPTS_DIR}/{key}.txt": data for key, data in txt.items()})
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(dir=root) as staging:
        for local, data in files.items():
            tmp = Path(staging) / local
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
        for local in files:
            target = root / local
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(staging) / local), target)
            written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", required=True, help="benchmark root, e.g. ../shared/benchmarks")
    args = parser.parse_args(argv)
    try:
        written = fetch_benchmarks(args.dest)
    except BenchmarkInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} verified files to {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

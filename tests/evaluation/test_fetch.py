"""Benchmark fetch: pinned URLs, layout, DPG jsonl build, sha256 verification (fake fetch)."""

from __future__ import annotations

import json

import pytest

from evaluation import fetch as fetch_mod
from evaluation.errors import BenchmarkInputError
from evaluation.fetch import ELLA, FILES, SHA256, build_dpg_jsonl, fetch_benchmarks, raw_url


def shared_sums(root):
    sums = {}
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        sums[path.removeprefix("./")] = digest
    return sums


def test_embedded_hashes_match_shared_sums(benchmark_root):
    sums = shared_sums(benchmark_root)
    assert set(SHA256) <= set(sums)
    assert {path: SHA256[path] for path in SHA256} == {path: sums[path] for path in SHA256}
    assert set(FILES) | {"dpg_bench/prompts.jsonl"} == set(SHA256)


def test_dpg_jsonl_build_reproduces_shared_file(benchmark_root):
    folder = benchmark_root / "dpg_bench" / "prompts"
    built = build_dpg_jsonl({p.stem: p.read_bytes() for p in folder.glob("*.txt")})
    assert built == (benchmark_root / "dpg_bench" / "prompts.jsonl").read_bytes()


class FakeRemote:
    """Serves the pinned URLs from the shared copy; `corrupt` alters one file's bytes."""

    def __init__(self, root, corrupt=None):
        self.root, self.corrupt, self.urls = root, corrupt, []
        self.by_url = {raw_url(*src): root / local for local, src in FILES.items()}
        for txt in (root / "dpg_bench" / "prompts").glob("*.txt"):
            self.by_url[raw_url(*ELLA, f"dpg_bench/prompts/{txt.name}")] = txt

    def __call__(self, url):
        self.urls.append(url)
        if url == fetch_mod.tree_url(*ELLA):
            entries = [{"path": f"dpg_bench/prompts/{p.name}", "type": "blob"}
                       for p in (self.root / "dpg_bench" / "prompts").glob("*.txt")]
            entries.append({"path": "dpg_bench/compute_dpg_bench.py", "type": "blob"})
            return json.dumps({"tree": entries, "truncated": False}).encode()
        data = self.by_url[url].read_bytes()
        return data + b" " if self.by_url[url].name == self.corrupt else data


def test_fetch_layout_and_verification(benchmark_root, tmp_path):
    remote = FakeRemote(benchmark_root)
    written = fetch_benchmarks(tmp_path, fetch=remote)
    assert len(written) == len(FILES) + 1 + 1065
    assert all(u.startswith("https://raw.githubusercontent.com/") or "api.github.com" in u
               for u in remote.urls)
    assert raw_url(*FILES["wise/verified/merge.json"]) == (
        "https://raw.githubusercontent.com/PKU-YuanGroup/WISE/"
        "eb51174483a5de2e34e8614cf9dfb3319ee7fcd0/data_verified/merge.json")
    for path in SHA256:
        assert (tmp_path / path).read_bytes() == (benchmark_root / path).read_bytes()
    assert (tmp_path / "dpg_bench/prompts/diffusiondb25.txt").read_bytes() == (
        benchmark_root / "dpg_bench/prompts/diffusiondb25.txt").read_bytes()


@pytest.mark.parametrize("corrupt,needle", [("merge.json", "wise/verified/merge.json"),
                                            ("countbench4.txt", "dpg_bench/prompts.jsonl")])
def test_fetch_mismatch_fails_and_writes_nothing(benchmark_root, tmp_path, corrupt, needle):
    with pytest.raises(BenchmarkInputError, match=f"sha256 mismatch: {needle}"):
        fetch_benchmarks(tmp_path / "out", fetch=FakeRemote(benchmark_root, corrupt))
    assert not (tmp_path / "out").exists()


def test_cli_reports_error(monkeypatch, capsys, tmp_path):
    def broken(dest):
        raise BenchmarkInputError("sha256 mismatch: x")

    monkeypatch.setattr(fetch_mod, "fetch_benchmarks", broken)
    assert fetch_mod.main(["--dest", str(tmp_path)]) == 1
    assert "sha256 mismatch" in capsys.readouterr().err

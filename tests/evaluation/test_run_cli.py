"""`python -m evaluation.run`: input checks (exit 2, one line), end to end on digits, resume."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from evaluation.run import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--bench", "geneval"], "GenEval detector (Mask2Former) not given; pass --detector-path"),
        (["--bench", "dpg", "--vqa-path", "/nowhere/vqa"],
         "DPG-Bench VQA judge folder /nowhere/vqa not found; fix --vqa-path"),
        (["--bench", "wise"], "WISE needs exactly one judge: pass --wise-vlm-path"),
        (["--bench", "diversity", "--lpips-alexnet", "a.pth"],
         "pass --lpips-alexnet and --lpips-lin"),
        (["--bench", "digits,nope"], "--bench ['nope']: unknown"),
        (["--nfe", "1,x"], "--nfe '1,x' is not a comma list of integers"),
        (["--bench", "diversity", "--div-prompts", "/nowhere/p.txt"],
         "diversity prompt file /nowhere/p.txt not found; fix --div-prompts"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(capsys, tmp_path, untrained_export, extra, needle):
    code, out, err = run_cli(capsys, "--model", str(untrained_export), "--out",
                             str(tmp_path / "o"), *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err
    assert not (tmp_path / "o").exists()  # nothing was written before the inputs were valid


def test_missing_model_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "--model", str(tmp_path / "none.ckpt"))
    assert code == 2 and "none.ckpt not found; pass a .ckpt or an export folder" in err


def test_end_to_end_digits(capsys, tmp_path, untrained_export, digit_judge):
    out = tmp_path / "eval"
    args = ["--model", str(untrained_export), "--bench", "digits,diversity", "--nfe", "1,2",
            "--per-digit", "2", "--div-k", "2", "--limit", "4", "--out", str(out), "--no-progress"]
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert set(results["results"]) == {"digits", "diversity"}
    digits = results["results"]["digits"]
    assert set(digits) == {"1", "2"} and digits["1"]["meta"]["prompts_scored"] == 4
    assert 0 <= digits["2"]["overall"] <= 1 and digits["2"]["meta"]["metrics"]["fd"] > 0
    diversity = results["results"]["diversity"]["1"]
    assert diversity["meta"]["backend"] == "digit-judge feature distance"
    assert (out / "digits" / "nfe2" / "0" / "00000.png").is_file()

    html = (out / "report.html").read_text()
    assert "<h2>digits</h2>" in html and "<h2>diversity</h2>" in html
    assert "NFE 1</th><th>NFE 2" in html and "digit_3" in html and "fd" in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 1 + 2 * 4 + 2
    assert 'src="http' not in html and "file://" not in html  # self-contained

    from mlflow import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])  # the session's store (conftest)
    experiment = client.get_experiment_by_name("twinflow-eval").experiment_id
    run = client.search_runs([experiment], order_by=["attributes.start_time DESC"])[0]
    assert run.data.metrics["digits/nfe1/overall"] == pytest.approx(digits["1"]["overall"])
    assert "diversity/nfe2/overall" in run.data.metrics and run.data.params["nfes"] == "1,2"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"report.html",
                                                                        "results.json"}

    code, _, err = run_cli(capsys, *args, "--no-mlflow")  # resumes: nothing is regenerated
    again = json.loads((out / "results.json").read_text())["results"]["digits"]["1"]
    assert code == 0 and again["meta"]["images_generated"] == 0
    assert again["overall"] == digits["1"]["overall"]


def test_a_second_call_into_the_same_out_merges_and_other_settings_are_refused(
        capsys, tmp_path, untrained_export, digit_judge):
    out = tmp_path / "eval"
    base = ["--model", str(untrained_export), "--bench", "digits", "--per-digit", "2",
            "--limit", "4", "--out", str(out), "--no-progress", "--no-mlflow"]
    assert run_cli(capsys, *base, "--nfe", "1")[0] == 0
    first = json.loads((out / "results.json").read_text())["results"]["digits"]["1"]
    assert run_cli(capsys, *base, "--nfe", "2,4")[0] == 0
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["results"]["digits"]) == ["1", "2", "4"] and results["nfes"] == "1,2,4"
    assert results["results"]["digits"]["1"] == first  # the earlier NFE kept, as it was
    html = (out / "report.html").read_text()
    assert "NFE 1</th><th>NFE 2</th><th>NFE 4" in html
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, _, err = run_cli(capsys, *base, "--nfe", "1", "--seed", "7")
    assert code == 2 and err.count("\n") == 1 and "seed 0 there, 7 now" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_out_dir_of_another_model_is_refused(capsys, tmp_path, untrained_export):
    out = tmp_path / "o"
    out.mkdir()
    (out / "model.json").write_text('{"model": "/elsewhere", "size": 1, "mtime_ns": 1}')
    code, _, err = run_cli(capsys, "--model", str(untrained_export), "--out", str(out))
    assert code == 2 and "holds images of another model" in err


def test_module_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "evaluation.run", "--model",
                           str(tmp_path / "absent"), "--bench", "digits"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"error: --model {tmp_path / 'absent'} not found; pass a .ckpt or an export folder"]

"""Exports are written beside the target and renamed into place."""

import stat

from tests.evaluation.conftest import build_tiny_module
from twinflow.export import export_module, load_module


def test_export_replaces_a_folder_whole_and_leaves_no_staging(tmp_path):
    module = build_tiny_module()
    out = export_module(module, tmp_path / "export")
    export_module(module, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    (out / "eval").mkdir()  # e.g. `make eval`'s default output, inside the export
    (out / "eval" / "results.json").write_text("{}")
    export_module(module, out)
    # the new export is whole; the old folder with its extra files is kept beside, not deleted
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("export.replaced-")]
    assert len(kept) == 1 and (kept[0] / "eval" / "results.json").read_text() == "{}"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors", "model.yaml"]
    for item in out.iterdir():
        assert stat.S_IMODE(item.stat().st_mode) == 0o644
    assert load_module(out) is not None


def test_export_over_a_file_is_refused_and_keeps_the_file(tmp_path):
    import pytest

    target = tmp_path / "export"
    target.write_text("notes\n")
    with pytest.raises(ValueError, match="is a file"):
        export_module(build_tiny_module(), target)
    assert target.read_text() == "notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging, no hidden copy

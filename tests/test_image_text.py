"""Streaming image-caption sources: folders, manifests, parquet, webdataset tars (CPU, tmp)."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from twinflow.data import image_text
from twinflow.data.image_text import (
    Record,
    UnreadableImage,
    decode_rgb,
    fit_to,
    scan_source,
)
from twinflow.data.tiny_images import write_tiny_image_caption_folder

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (6, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def _pixel(record: Record) -> tuple[int, ...]:
    """The colour of a single-colour record's image, checking the whole image is that colour."""
    a = np.asarray(decode_rgb(record.read()))
    assert a.shape == (4, 6, 3) and (a == a[0, 0]).all()
    return tuple(int(v) for v in a[0, 0])


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _one_line(excinfo: pytest.ExceptionInfo, path: object) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.png").write_bytes(_png(RED))
    (tmp_path / "b.txt").write_text("  a red thing \n")
    (tmp_path / "sub" / "a.png").write_bytes(_png(BLUE))
    (tmp_path / "sub" / "a.txt").write_text("blue")
    (tmp_path / "nocap.png").write_bytes(_png(GREEN))
    (tmp_path / "empty.png").write_bytes(_png(GREEN))
    (tmp_path / "empty.txt").write_text(" \n\t")
    (tmp_path / "corrupt.png").write_bytes(np.random.default_rng(0).bytes(200))
    (tmp_path / "corrupt.txt").write_text("noise")
    (tmp_path / "notes.md").write_text("ignored")
    records, report = scan_source(tmp_path)
    assert [r.key for r in records] == ["b.png", "corrupt.png", "sub/a.png"]
    assert [r.caption for r in records] == ["a red thing", "noise", "blue"]
    assert (report.found, report.used) == (5, 3)
    assert report.skipped == {"missing_caption": 1, "empty_caption": 1}
    assert _pixel(records[0]) == RED and _pixel(records[2]) == BLUE
    with pytest.raises(UnreadableImage) as excinfo:
        decode_rgb(records[1].read())
    assert "\n" not in str(excinfo.value)
    assert report.summary() == (
        f"{tmp_path}: 5 found, 3 used, skipped 2 (empty_caption=1, missing_caption=1)")


def test_records_are_picklable_and_read_raises_oserror_when_file_vanished(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(_png(RED))
    (tmp_path / "x.txt").write_text("red")
    (record,), _ = scan_source(tmp_path)
    clone = pickle.loads(pickle.dumps(record))
    assert clone.key == "x.png" and clone.read() == _png(RED)
    (tmp_path / "x.png").unlink()
    with pytest.raises(OSError):
        record.read()


def test_jsonl_manifest(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "r.png").write_bytes(_png(RED))
    (tmp_path / "b.png").write_bytes(_png(BLUE))
    lines = [
        json.dumps({"image": "img/r.png", "caption": " red "}),
        "",
        json.dumps({"image": "b.png", "text": "blue"}),
        "{not json",
        json.dumps({"caption": "no image field"}),
        json.dumps({"image": "gone.png", "caption": "missing"}),
        json.dumps({"image": "b.png", "caption": ""}),
        json.dumps({"image": "b.png"}),
        json.dumps(["a", "list"]),
    ]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    records, report = scan_source(manifest)
    assert [(r.key, r.caption) for r in records] == [
        ("manifest.jsonl:1", "red"), ("manifest.jsonl:3", "blue")]
    assert [_pixel(r) for r in records] == [RED, BLUE]
    assert (report.found, report.used) == (8, 2)
    assert report.skipped == {"bad_row": 3, "missing_image": 1, "empty_caption": 1,
                              "missing_caption": 1}


def test_csv_manifest(tmp_path: Path) -> None:
    (tmp_path / "r.png").write_bytes(_png(RED))
    manifest = tmp_path / "pairs.csv"
    manifest.write_text("image,text\nr.png,a red square\nmissing.png,gone\n,no image\nr.png,\n")
    records, report = scan_source(manifest)
    assert [(r.key, r.caption) for r in records] == [("pairs.csv:2", "a red square")]
    assert _pixel(records[0]) == RED
    assert report.skipped == {"missing_image": 1, "bad_row": 1, "empty_caption": 1}
    assert report.found == 4


def test_manifest_missing_columns(tmp_path: Path) -> None:
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("file,caption\nr.png,red\n")
    with pytest.raises(ValueError) as excinfo:
        scan_source(bad_csv)
    assert "`image`" in _one_line(excinfo, bad_csv)
    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_text(json.dumps({"image": "r.png", "label": "red"}) + "\n")
    with pytest.raises(ValueError) as excinfo:
        scan_source(bad_jsonl)
    assert "`caption`" in _one_line(excinfo, bad_jsonl)
    no_image = tmp_path / "no_image.jsonl"
    no_image.write_text(json.dumps({"path": "r.png", "caption": "red"}) + "\n")
    with pytest.raises(ValueError) as excinfo:
        scan_source(no_image)
    assert "`image`" in _one_line(excinfo, no_image)


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    (tmp_path / "g.png").write_bytes(_png(GREEN))
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    images = [
        {"bytes": _png(RED), "path": "ignored.png"},
        {"bytes": None, "path": "g.png"},
        None,
        {"bytes": _png(BLUE), "path": None},
        {"bytes": None, "path": "gone.png"},
        {"bytes": _png(RED), "path": None},
        {"bytes": _png(BLUE), "path": None},
    ]
    captions = ["red", "green", "nothing", "  ", "gone", None, "blue"]
    table = pa.table({"image": pa.array(images, struct), "caption": captions})
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=3)
    records, report = scan_source(path)
    assert [(r.key, r.caption) for r in records] == [
        ("data.parquet:0", "red"), ("data.parquet:1", "green"), ("data.parquet:6", "blue")]
    assert [_pixel(r) for r in records] == [RED, GREEN, BLUE]
    assert pickle.loads(pickle.dumps(records[2])).read() == _png(BLUE)
    assert (report.found, report.used) == (7, 3)
    assert report.skipped == {"missing_image": 2, "empty_caption": 1, "missing_caption": 1}

    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"image": [_png(BLUE), None], "text": ["blue", "x"]}), plain)
    records, report = scan_source(plain)
    assert [(r.key, r.caption, _pixel(r)) for r in records] == [("plain.parquet:0", "blue", BLUE)]
    assert report.skipped == {"missing_image": 1}
    paths = tmp_path / "paths.parquet"
    pq.write_table(pa.table({"image": ["g.png", "gone.png"], "caption": ["g", "x"]}), paths)
    records, report = scan_source(paths)
    assert [(r.key, _pixel(r)) for r in records] == [("paths.parquet:0", GREEN)]
    assert report.skipped == {"missing_image": 1}

    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"picture": [_png(RED)], "caption": ["red"]}), bad)
    with pytest.raises(ValueError) as excinfo:
        scan_source(bad)
    assert "`image`" in _one_line(excinfo, bad)


def _shard(path: Path, start: int) -> Path:
    return _tar(path, {
        f"{start:03d}.png": _png(RED),
        f"{start:03d}.txt": b" red\n",
        f"./sub/{start + 1:03d}.jpg": _png(BLUE),  # PNG bytes under .jpg: PIL sniffs the format
        f"sub/{start + 1:03d}.json": json.dumps({"caption": "blue", "id": 1}).encode(),
    })


def test_tar(tmp_path: Path) -> None:
    path = _tar(tmp_path / "shard-000.tar", {
        "a.png": _png(RED),
        "a.txt": b"red",
        "dir/b.c.webp": _png(GREEN),  # ext "c.webp" is not an image ext: no image for dir/b
        "dir/b.c.txt": b"green",
        "d.txt": b"caption without image",
        "e.png": _png(GREEN),
        "f.png": _png(GREEN),
        "f.txt": b"  ",
        "g.png": _png(GREEN),
        "g.json": b"{broken",
        "h.png": _png(GREEN),
        "h.json": json.dumps({"text": "green via text"}).encode(),
        "i.png": _png(GREEN),
        "i.json": json.dumps({"label": 3}).encode(),
        "dir/k.jpeg": _png(BLUE),
        "dir/k.txt": b"blue",
    })
    records, report = scan_source(path)
    assert [(r.key, r.caption) for r in records] == [
        ("shard-000.tar:a", "red"), ("shard-000.tar:h", "green via text"),
        ("shard-000.tar:dir/k", "blue")]
    assert [_pixel(r) for r in records] == [RED, GREEN, BLUE]
    assert (report.found, report.used) == (9, 3)
    assert report.skipped == {"missing_image": 2, "missing_caption": 2, "empty_caption": 1,
                              "bad_row": 1}
    assert pickle.loads(pickle.dumps(records[2])).read() == _png(BLUE)


def test_tar_glob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = image_text.glob.glob
    monkeypatch.setattr(image_text.glob, "glob", lambda p: sorted(listed(p), reverse=True))
    (tmp_path / "data").mkdir()
    _shard(tmp_path / "data" / "shard-001.tar", 10)
    _shard(tmp_path / "data" / "shard-000.tar", 0)
    (tmp_path / "data" / "other.tar").write_bytes(b"not matched by the glob")
    records, report = scan_source(str(tmp_path / "data" / "shard-*.tar"))
    assert [r.key for r in records] == [
        "shard-000.tar:000", "shard-000.tar:sub/001", "shard-001.tar:010", "shard-001.tar:sub/011"]
    assert [r.caption for r in records] == ["red", "blue"] * 2
    assert [_pixel(r) for r in records] == [RED, BLUE] * 2
    assert (report.found, report.used, sum(report.skipped.values())) == (4, 4, 0)
    pattern = tmp_path / "data" / "nothing-*.tar"
    with pytest.raises(ValueError) as excinfo:
        scan_source(str(pattern))
    _one_line(excinfo, pattern)


@pytest.mark.parametrize("kind", ["missing", "unknown", "empty_folder", "unusable"])
def test_value_errors_are_one_line_and_name_the_path(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "src"
    if kind == "unknown":
        path = tmp_path / "images.zip"
        path.write_bytes(b"PK")
    elif kind == "empty_folder":
        path.mkdir()
    elif kind == "unusable":
        path.mkdir()
        (path / "x.png").write_bytes(_png(RED))
    with pytest.raises(ValueError) as excinfo:
        scan_source(path)
    msg = _one_line(excinfo, path)
    if kind in ("missing", "unknown"):
        assert ".parquet" in msg and ".tar" in msg and ".jsonl" in msg
    if kind == "unusable":
        assert "1 found, 0 used" in msg and "missing_caption=1" in msg


def test_decode_rgb_rejects_bad_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    good = _png(RED)
    im = decode_rgb(good)
    assert im.mode == "RGB" and im.size == (6, 4)
    gray = io.BytesIO()
    Image.new("L", (3, 2), 77).save(gray, format="PNG")
    assert np.asarray(decode_rgb(gray.getvalue())).tolist() == [[[77] * 3] * 3] * 2
    for data in (b"", b"hello", np.random.default_rng(1).bytes(300), good[: len(good) // 2]):
        with pytest.raises(UnreadableImage) as excinfo:
            decode_rgb(data)
        assert "\n" not in str(excinfo.value)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5)  # 24 pixels > 2 * 5: a "bomb"
    with pytest.raises(UnreadableImage, match="DecompressionBomb"):
        decode_rgb(good)


def _halves(width: int, height: int, landscape: bool) -> Image.Image:
    """Red then blue halves, split left/right (landscape) or top/bottom (portrait)."""
    a = np.zeros((height, width, 3), np.uint8)
    if landscape:
        a[:, : width // 2], a[:, width // 2 :] = RED, BLUE
    else:
        a[: height // 2], a[height // 2 :] = RED, BLUE
    return Image.fromarray(a)


@pytest.mark.parametrize("size,target", [((64, 48), (16, 32)), ((30, 90), (20, 10)),
                                         ((33, 17), (7, 13)), ((10, 10), (24, 24))])
def test_fit_to_shape(size: tuple[int, int], target: tuple[int, int]) -> None:
    out = fit_to(Image.new("RGB", size, GREEN), *target)
    assert out.shape == (*target, 3) and out.dtype == np.uint8
    assert (out == GREEN).all()


def test_fit_to_center_crops() -> None:
    out = fit_to(_halves(20, 10, landscape=True), 10, 10)  # scale 1: a pure crop of x 5..14
    assert (out[:, :5] == RED).all() and (out[:, 5:] == BLUE).all()
    out = fit_to(_halves(10, 20, landscape=False), 10, 10)  # portrait: crop y 5..14
    assert (out[:5] == RED).all() and (out[5:] == BLUE).all()
    out = fit_to(_halves(80, 40, landscape=True), 10, 10)  # downscale 4x, then crop
    assert out.shape == (10, 10, 3)
    assert (out[:, :3] == RED).all() and (out[:, 7:] == BLUE).all()
    assert (out[:, 4, 0] > out[:, 4, 2]).all() and (out[:, 5, 2] > out[:, 5, 0]).all()
    assert (out[:, 4, 2] > 0).all()  # bicubic blends across the split (nearest would not)
    np.testing.assert_array_equal(out[:, 4, 0], out[:, 5, 2])  # split symmetric about center


def test_tiny_folder_is_deterministic(tmp_path: Path) -> None:
    a = write_tiny_image_caption_folder(tmp_path / "a", n=6, size=16, seed=3)
    b = write_tiny_image_caption_folder(tmp_path / "b", n=6, size=16, seed=3)
    c = write_tiny_image_caption_folder(tmp_path / "c", n=6, size=16, seed=4)
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir()) and len(files) == 12
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files)
    records, report = scan_source(a)
    assert report.used == 6 and [r.key for r in records][:2] == ["00000.png", "00001.png"]
    assert all(r.caption.split()[0] == "a" and len(r.caption.split()) == 3 for r in records)
    assert np.asarray(decode_rgb(records[0].read())).shape == (16, 16, 3)

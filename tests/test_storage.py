"""Atomic writes and the target-folder check: a failed save never changes or half-writes what was there."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.runtime.storage import atomic_file, atomic_folder, check_target_folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_atomic_folder_replaces_the_target_only_on_success(tmp_path):
    target = tmp_path / "index"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_folder(target) as tmp:
        assert tmp.is_dir() and tmp.parent == tmp_path and tmp != target and not any(tmp.iterdir())
        (tmp / "new.txt").write_text("half-written")
        raise RuntimeError("boom")
    assert snapshot(tmp_path) == {"index/old.txt": b"old"}, "the old contents are untouched"
    assert [p.name for p in tmp_path.iterdir()] == ["index"], "no temporary folder is left behind"
    with atomic_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (target / "old.txt").exists(), "the target is replaced only when the block ends"
    assert snapshot(tmp_path) == {"index/new.txt": b"new"}, "the whole folder is replaced"
    assert [p.name for p in tmp_path.iterdir()] == ["index"]


def test_atomic_folder_creates_a_missing_target_and_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "sub" / "adapter"
    with pytest.raises(ValueError), atomic_folder(target) as tmp:
        (tmp / "a.bin").write_bytes(b"x")
        raise ValueError
    assert not target.exists() and list((tmp_path / "sub").iterdir()) == []
    with atomic_folder(target) as tmp:
        (tmp / "a.bin").write_bytes(b"x")
    assert snapshot(target) == {"a.bin": b"x"} and [p.name for p in (tmp_path / "sub").iterdir()] == ["adapter"]


def test_atomic_file_replaces_the_target_only_on_success(tmp_path):
    target = tmp_path / "cache.npz"
    target.write_bytes(b"old")
    with pytest.raises(OSError), atomic_file(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npz" and tmp != target
        tmp.write_bytes(b"half")
        raise OSError("disk full")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["cache.npz"]
    with atomic_file(target) as tmp:
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["cache.npz"]
    fresh = tmp_path / "runs" / "h2h.runs.csv"  # a missing parent folder is created
    with atomic_file(fresh) as tmp:
        tmp.write_text("a,b\n")
    assert fresh.read_text() == "a,b\n" and [p.name for p in fresh.parent.iterdir()] == ["h2h.runs.csv"]


def test_check_target_folder_refuses_files_and_foreign_folders(tmp_path):
    def never(folder: Path) -> bool:
        raise AssertionError("is_ours is only asked about a non-empty folder")

    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(FileExistsError, match=r"a-file is a file; save the index to a folder path instead\. "
                                              r"Nothing was written\."):
        check_target_folder(a_file, "index", never)
    foreign = tmp_path / "project"
    foreign.mkdir()
    (foreign / "thesis.md").write_text("months of work")
    (foreign / "notes.txt").write_text("notes")
    with pytest.raises(FileExistsError, match=r"Refusing to save the adapter into .*project: it holds files that are "
                                              r"not part of a saved adapter \(notes\.txt, thesis\.md\).*Nothing was "
                                              r"written"):
        check_target_folder(foreign, "adapter", lambda folder: False)
    assert snapshot(tmp_path) == {"a-file": b"x", "project/notes.txt": b"notes", "project/thesis.md": b"months of work"}
    empty = tmp_path / "empty"
    empty.mkdir()
    check_target_folder(empty, "index", never)
    check_target_folder(tmp_path / "missing", "index", never)
    asked = []
    check_target_folder(foreign, "index", lambda folder: asked.append(folder) or True)
    assert asked == [foreign]

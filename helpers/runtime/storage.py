"""Write files so that nothing is ever half-written.

:func:`atomic_folder` / :func:`atomic_file` write to a temporary sibling, then rename it into place;
:func:`check_target_folder` refuses to replace files the workbook did not write. (The result tables of
every run are kept by :mod:`helpers.runtime.results`.)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------- atomic writes
@contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target`` that replaces it in one rename if the block
    succeeds (the old one is deleted only then); on an error it is removed and ``target`` is untouched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            try:
                tmp.rename(target)
            except BaseException:
                old.rename(target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` that replaces it if the block succeeds (else is removed)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def check_target_folder(folder: str | Path, what: str, is_ours: Callable[[Path], bool]) -> None:
    """Refuse (writing nothing) to put the ``what`` over a file or a non-empty folder failing ``is_ours``.

    Raises:
        FileExistsError: with what the folder holds and what to do instead.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file; save the {what} to a folder path instead. Nothing was written.")
    if folder.is_dir() and any(folder.iterdir()) and not is_ours(folder):
        others = sorted(p.name for p in folder.iterdir())
        raise FileExistsError(
            f"Refusing to save the {what} into {folder}: it holds files that are not part of a saved {what} "
            f"({', '.join(others[:5])}{', ...' if len(others) > 5 else ''}), and saving replaces the whole "
            f"folder. Nothing was written; save to a new or empty folder, e.g. {folder / what}.")

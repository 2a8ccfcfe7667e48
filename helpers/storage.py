"""Write files so that nothing is ever half-written, and keep the result tables of every run.

:func:`atomic_folder` / :func:`atomic_file` write to a temporary sibling, then rename it into place;
:func:`check_target_folder` refuses to replace files the workbook did not write; :func:`save_results`,
:func:`append_run` and :func:`load_runs` keep the tables under ``results/`` with each run's metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.config import REPO_ROOT, get_settings, package_versions

if TYPE_CHECKING:
    import pandas as pd


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


# --------------------------------------------------------------------------- results files
class ResultPath(type(Path())):  # the concrete PosixPath/WindowsPath: only the repr changes
    """The path of a results file: a normal absolute ``Path`` whose repr is relative to the repo
    (``ResultPath('results/03_retrieval_metrics.csv')``), so a notebook showing it does not record the
    machine's folders; ``str()``, ``os.fspath()`` and every ``Path`` method see the absolute path."""

    def __repr__(self) -> str:
        try:
            relative = self.relative_to(REPO_ROOT)
        except ValueError:
            return super().__repr__()
        return f"{type(self).__name__}({relative.as_posix()!r})"


def run_metadata(**extra: Any) -> dict[str, Any]:
    """Who/what/when of a run: models, profile, seed, key package versions, git commit."""
    settings = get_settings()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "profile": settings.profile.name,
            "llm": settings.llm, "embedder": settings.embedder, "seed": settings.seed,
            "git_commit": commit, "versions": package_versions(), **extra}


def save_results(table: pd.DataFrame, name: str, **metadata: Any) -> Path:
    """Write ``table`` to ``results/<name>.csv`` and its run metadata to ``results/<name>.meta.json``
    (overwritten by each run; notebook 05 reads them). Returns the CSV's :class:`ResultPath`."""
    folder = get_settings().results_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    table.to_csv(path, index=True)
    (folder / f"{name}.meta.json").write_text(json.dumps(run_metadata(**metadata), indent=2, default=str))
    return ResultPath(path)


def load_results(name: str) -> pd.DataFrame:
    """The table :func:`save_results` last wrote under ``name`` (first column as the index).

    Raises:
        FileNotFoundError: nothing was saved under ``name`` yet; the message names the notebook to run.
    """
    import pandas as pd

    path = get_settings().results_dir / f"{name}.csv"
    if not path.is_file():
        which = f"notebook {name[:2]}" if name[:2].isdigit() else "the notebook that saves it"
        raise FileNotFoundError(f"No results named {name!r} yet: run {which} first (make run, or run all its cells).")
    return pd.read_csv(path, index_col=0)


RUN_KEY = ("profile", "llm", "embedder", "seed", "git_commit")


def append_run(table: pd.DataFrame, name: str, **metadata: Any) -> Path:
    """Add ``table`` to ``results/<name>.runs.csv`` with the run's metadata columns (``profile``, ``llm``,
    ``seed``, ...), replacing an earlier run of the same configuration (re-running never duplicates
    rows) and keeping other configurations for :func:`load_runs`. Returns a :class:`ResultPath`."""
    import pandas as pd

    meta = run_metadata(**metadata)
    flat = {k: (json.dumps(v, default=str) if isinstance(v, dict | list) else v)
            for k, v in meta.items() if k != "versions"}
    flat["versions"] = json.dumps(meta["versions"])
    rows = table.reset_index() if table.index.name else table.copy()
    for key, value in flat.items():
        rows[key] = value
    path = get_settings().results_dir / f"{name}.runs.csv"
    if path.exists():
        old = pd.read_csv(path, dtype={"git_commit": str})
        same = pd.Series(True, index=old.index)
        for key in RUN_KEY:
            same &= old[key].astype(str) == str(flat[key])
        rows = pd.concat([old[~same], rows], ignore_index=True)
    with atomic_file(path) as tmp:
        rows.to_csv(tmp, index=False)
    return ResultPath(path)


def load_runs(name: str) -> pd.DataFrame:
    """Every run stored by :func:`append_run` under ``name`` (empty if there is none yet)."""
    import pandas as pd

    path = get_settings().results_dir / f"{name}.runs.csv"
    return pd.read_csv(path, dtype={"git_commit": str}) if path.exists() else pd.DataFrame()

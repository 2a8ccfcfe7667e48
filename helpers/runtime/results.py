"""Keep the result tables of every run: :func:`save_results`, :func:`append_run` and :func:`load_runs` write
and read the tables under ``results/`` with each run's metadata (models, profile, seed, versions, commit).
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.runtime.config import REPO_ROOT, get_settings, package_versions
from helpers.runtime.storage import atomic_file

if TYPE_CHECKING:
    import pandas as pd


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

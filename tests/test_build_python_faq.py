"""``scripts/build_python_faq.py`` is frozen provenance: rebuilding from Debian's ``python3.11-doc``
reproduces the committed ``data/python_faq/`` byte for byte (skipped where the package is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_script

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "build_python_faq.py"
COMMITTED = REPO / "data" / "python_faq"
PACKAGE = "python3.11-doc 3.11.2-6+deb12u9"  # what the committed data was built from

module = load_script(SCRIPT)
HAVE_SOURCES = (module.DEFAULT_SOURCE_DIR / "faq").is_dir() and any(
    path.is_file() for path in module.LICENSE_CANDIDATES
)


def first_difference(built_dir: Path, committed_dir: Path) -> str | None:
    """Describe, in one line, the first way ``built_dir`` differs from ``committed_dir``; None if equal."""
    built = sorted(p.name for p in built_dir.iterdir())
    committed = sorted(p.name for p in committed_dir.iterdir())
    if built != committed:
        return f"the build wrote {built}, {committed_dir.name}/ holds {committed}"
    for name in committed:
        new = (built_dir / name).read_bytes()
        old = (committed_dir / name).read_bytes()
        if new == old:
            continue
        new_lines, old_lines = new.splitlines(keepends=True), old.splitlines(keepends=True)
        for number, (a, b) in enumerate(zip(new_lines, old_lines), start=1):
            if a != b:
                col = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                lo = max(col - 20, 0)
                return (f"{name} line {number} column {col + 1}: built {a[lo:col + 20]!r}, "
                        f"committed {b[lo:col + 20]!r}")
        return f"{name}: built {len(new_lines)} lines, committed {len(old_lines)}"
    return None


@pytest.mark.skipif(not HAVE_SOURCES, reason="the Python 3.11 doc sources are not installed "
                    "(apt-get install python3.11-doc)")
def test_rebuild_reproduces_committed_data(tmp_path):
    code = module.main(["--source-dir", str(module.DEFAULT_SOURCE_DIR), "--out-dir", str(tmp_path)])
    assert code == 0
    difference = first_difference(tmp_path, COMMITTED)
    if difference is not None:
        pytest.fail(f"rebuilding data/python_faq differs ({PACKAGE} built it): {difference}", pytrace=False)

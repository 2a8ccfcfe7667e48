#!/usr/bin/env python3
"""Copy seven Python 3.11 HOWTOs into ``data/your_data/docs/``: an example of "a team's own documents".

Source: the reStructuredText sources shipped by Debian's ``python3.11-doc`` package (PSF licence),
installed under ``/usr/share/doc/python3.11/html/_sources/howto/``. Each ``<name>.rst.txt`` is copied
byte for byte to ``data/your_data/docs/<name>.txt`` (stale ``.txt`` files there are removed first, so
the result is deterministic), and the PSF licence text already in ``data/python_faq/LICENSE-PSF.txt``
is copied to ``data/your_data/LICENSE-PSF.txt``, outside ``docs/`` because every file in ``docs/`` is
indexed. The questions (``data/your_data/questions.csv``) are written by hand and not touched here.

Usage (from anywhere; needs ``apt-get install -y python3.11-doc``)::

    python scripts/build_your_data_example.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE_DIR = Path("/usr/share/doc/python3.11/html/_sources/howto")
DEFAULT_OUT_DIR = REPO_ROOT / "data" / "your_data"
LICENSE_SOURCE = REPO_ROOT / "data" / "python_faq" / "LICENSE-PSF.txt"
# The HOWTOs copied, by their file stem (``<stem>.rst.txt`` -> ``<stem>.txt``).
HOWTOS = ("sorting", "ipaddress", "annotations", "argparse", "sockets", "urllib2", "unicode")


def build(source_dir: Path, out_dir: Path) -> list[Path]:
    """Copy the HOWTOs and the licence; return the copied documents' paths."""
    docs_dir = out_dir / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    for stale in docs_dir.glob("*.txt"):
        stale.unlink()
    written = []
    for stem in HOWTOS:
        target = docs_dir / f"{stem}.txt"
        target.write_bytes((source_dir / f"{stem}.rst.txt").read_bytes())
        written.append(target)
    shutil.copyfile(LICENSE_SOURCE, out_dir / "LICENSE-PSF.txt")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE_DIR)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args()
    missing = [s for s in HOWTOS if not (args.source_dir / f"{s}.rst.txt").is_file()]
    if missing:
        print(
            f"error: {args.source_dir} lacks the Python 3.11 HOWTO sources "
            f"({', '.join(missing)}); run: apt-get install python3.11-doc",
            file=sys.stderr,
        )
        sys.exit(2)
    written = build(args.source_dir, args.out_dir)
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in written)
    print(f"wrote {len(written)} documents ({words:,} words) and LICENSE-PSF.txt to {args.out_dir}")


if __name__ == "__main__":
    main()

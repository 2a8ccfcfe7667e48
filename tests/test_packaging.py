"""environment.yml (conda) and pyproject.toml (pip) must describe the same environment."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

try:
    import yaml
except ImportError:  # PyYAML arrives with transformers, but the workbook does not declare it
    yaml = None

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"
CONDA_TO_PYPI = {"pytorch": "torch"}  # conda-forge names that differ from the PyPI ones
CONDA_TOOLS = {"python", "pip", "make"}  # the conda environment's own tools, not Python dependencies
EXTRAS = ("dev",)  # optional-dependency groups the conda environment installs too


def parse_environment_yml(text: str) -> dict:
    """The subset of YAML environment.yml uses (``key: value``, ``- item`` lists, one nested
    ``- pip:`` list), parsed the way ``yaml.safe_load`` would: used when PyYAML is not installed."""
    result: dict = {}
    key = None
    pip_list: list[str] | None = None
    pip_indent = 0
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            key, _, value = line.partition(":")
            result[key] = value.strip() or []
            pip_list = None
            continue
        item = line.strip()
        if not item.startswith("- "):
            raise ValueError(f"environment.yml: cannot parse {raw!r} without PyYAML")
        item = item[2:].strip()
        if pip_list is not None and indent > pip_indent:
            pip_list.append(item)
        elif item.endswith(":"):
            pip_list, pip_indent = [], indent
            result[key].append({item[:-1]: pip_list})
        else:
            pip_list = None
            result[key].append(item)
    return result


def _load_environment() -> dict:
    text = ENVIRONMENT.read_text(encoding="utf-8")
    return yaml.safe_load(text) if yaml is not None else parse_environment_yml(text)


def _requirements(lines: list[str], source: str, rename: dict[str, str] | None = None) -> dict[str, Requirement]:
    out: dict[str, Requirement] = {}
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement as err:
            raise AssertionError(f"{source}: {line!r} is not a PEP 508 requirement ({err})") from None
        name = canonicalize_name((rename or {}).get(req.name.lower(), req.name))
        assert name not in out, f"{source}: {name} is listed twice"
        out[name] = req
    return out


def _pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


def _environment_parts() -> tuple[list[str], list[str], list[str]]:
    """``(conda packages, pip requirements, pip options such as "-e .")`` of environment.yml."""
    conda, pip, options = [], [], []
    for dep in _load_environment()["dependencies"]:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                (options if line.startswith("-") else pip).append(line)
        else:
            conda.append(str(dep))
    return conda, pip, options


def _conda_name(spec: str) -> str:
    return re.split(r"[=<>!~ ]", spec, maxsplit=1)[0].lower()


def test_environment_yml_parser_matches_pyyaml():
    if yaml is None:
        pytest.skip("PyYAML is not installed: nothing to compare the fallback parser with")
    text = ENVIRONMENT.read_text(encoding="utf-8")
    assert parse_environment_yml(text) == yaml.safe_load(text)


def test_environment_yml_declares_the_same_dependencies_as_pyproject():
    project = _pyproject()
    declared = project["dependencies"] + [d for extra in EXTRAS for d in project["optional-dependencies"][extra]]
    wanted = _requirements(declared, "pyproject.toml")
    conda, pip, options = _environment_parts()
    conda_deps = [c for c in conda if _conda_name(c) not in CONDA_TOOLS]
    have = _requirements(conda_deps, "environment.yml (conda)", CONDA_TO_PYPI)
    for name, req in _requirements(pip, "environment.yml (pip)").items():
        assert name not in have, f"environment.yml: {name} is listed both for conda and for pip"
        have[name] = req

    def show(req: Requirement) -> str:
        return f"{req.name}{req.specifier}" + (f"; {req.marker}" if req.marker else "")

    problems = [f"missing from environment.yml: {show(wanted[n])}" for n in sorted(wanted.keys() - have.keys())]
    problems += [f"in environment.yml but not in pyproject.toml: {show(have[n])}"
                 for n in sorted(have.keys() - wanted.keys())]
    problems += [f"{n}: pyproject.toml says {show(wanted[n])!r}, environment.yml says {show(have[n])!r}"
                 for n in sorted(wanted.keys() & have.keys())
                 if (wanted[n].specifier, str(wanted[n].marker), wanted[n].extras)
                 != (have[n].specifier, str(have[n].marker), have[n].extras)]
    assert not problems, ("environment.yml and pyproject.toml disagree (runtime + "
                          f"{'/'.join(EXTRAS)} dependencies):\n  " + "\n  ".join(problems))
    assert "-e ." in options, "environment.yml must install the workbook itself with `- -e .` under pip:"


def test_environment_python_satisfies_requires_python():
    requires = SpecifierSet(_pyproject()["requires-python"])
    conda, _, _ = _environment_parts()
    pins = [c for c in conda if _conda_name(c) == "python"]
    assert len(pins) == 1, f"environment.yml should pin python exactly once, found {pins}"
    match = re.fullmatch(r"python\s*==?\s*(\d+(?:\.\d+)*)(?:\.\*)?", pins[0].strip())
    assert match, f"environment.yml: pin python to a version (python=3.11), not {pins[0]!r}"
    assert Version(match.group(1)) in requires, (
        f"environment.yml installs python {match.group(1)}, outside pyproject's requires-python {requires}")


def test_the_pinned_numerics_libraries_satisfy_pyproject():
    """constraints.txt pins the libraries that decide the model's numerics (what the recorded generations
    were made with); each pin must be a version pyproject.toml allows, or `make setup` could not install it."""
    lines = [line.split("#")[0].strip() for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()]
    pins = _requirements([line for line in lines if line], "constraints.txt")
    declared = _requirements(_pyproject()["dependencies"], "pyproject.toml")
    assert {"transformers", "peft"} <= set(pins)
    for name, pin in pins.items():
        (spec,) = pin.specifier
        assert spec.operator == "==", f"constraints.txt: {pin} is not an exact pin"
        if name in declared:
            assert Version(spec.version) in declared[name].specifier, f"{pin} is outside pyproject's {declared[name]}"

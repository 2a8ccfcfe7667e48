from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from helpers.runtime.config import DEFAULT_EMBEDDER, DEFAULT_LLM, PROFILES, get_settings, seed_everything


def test_default_profile_is_cpu_with_packaged_models(monkeypatch):
    for var in ("WORKBOOK_PROFILE", "WORKBOOK_LLM", "WORKBOOK_EMBEDDER", "WORKBOOK_SEED"):
        monkeypatch.delenv(var, raising=False)
    s = get_settings()
    assert s.profile.name == "cpu"
    assert (s.llm, s.embedder) == (DEFAULT_LLM, DEFAULT_EMBEDDER)
    assert s.seed == 1234
    from helpers.workbook.data import load_kb

    assert {doc.path.parent for doc in load_kb().values()} == {s.data_dir / "kb"}


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBOOK_PROFILE", "GPU")
    monkeypatch.setenv("WORKBOOK_EMBEDDER", "BAAI/bge-small-en-v1.5")
    monkeypatch.setenv("WORKBOOK_SEED", "7")
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))
    s = get_settings()
    assert s.profile is PROFILES["gpu"]
    assert s.llm == PROFILES["gpu"].llm
    assert s.embedder == "BAAI/bge-small-en-v1.5"
    assert s.seed == 7
    assert s.models_cache_dir == tmp_path / "models"


@pytest.mark.parametrize(("var", "value"), [("WORKBOOK_PROFILE", "tpu"), ("WORKBOOK_SEED", "abc")])
def test_bad_settings_give_clear_errors(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=var):
        get_settings()


def test_seed_everything_repeats_random_streams():
    seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_colab_with_a_gpu_defaults_to_the_gpu_profile(monkeypatch):
    import sys
    import types

    import helpers.runtime.config as config

    monkeypatch.delenv("WORKBOOK_PROFILE", raising=False)
    assert config.get_settings().profile.name == "cpu"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(config, "_cuda_available", lambda: False)
    assert config.get_settings().profile.name == "cpu", "a CPU-only Colab runtime keeps the small profile"
    monkeypatch.setattr(config, "_cuda_available", lambda: True)
    assert config.get_settings().profile.name == "gpu"
    monkeypatch.setenv("WORKBOOK_PROFILE", "cpu")
    assert config.get_settings().profile.name == "cpu", "an explicit setting always wins"


def test_hardware_banner_names_profile_machine_and_versions_but_no_paths(monkeypatch):
    from helpers.runtime.config import REPO_ROOT, hardware_banner

    monkeypatch.delenv("WORKBOOK_PROFILE", raising=False)
    banner = hardware_banner()
    assert banner.startswith("profile cpu:")
    assert "CPU cores" in banner and "GiB RAM" in banner and "torch " in banner
    assert str(REPO_ROOT) not in banner and "/home/" not in banner


def test_package_versions_and_machine_info_name_no_paths():
    from helpers.runtime.config import KEY_PACKAGES, REPO_ROOT, machine_info, package_versions

    versions = package_versions()
    assert tuple(versions) == KEY_PACKAGES and versions["torch"] and versions["faiss-cpu"]
    assert all(v is None or isinstance(v, str) for v in versions.values())
    info = machine_info()
    assert set(info) == {"system", "CPU cores", "RAM (GiB)", "GPU", "torch threads", "Hub", "python"}
    assert info["CPU cores"] >= 1 and info["RAM (GiB)"] >= 0 and info["torch threads"] == torch.get_num_threads()
    assert str(REPO_ROOT) not in str(info)

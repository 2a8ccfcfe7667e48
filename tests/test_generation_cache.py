"""The generation cache returns exactly what generation returns, and anything that could change the
output (model weights, adapter, prompt, decoding settings) misses."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
import torch

from helpers.generation import generate
from helpers.runtime.generation_cache import (
    COUNTS,
    batch_key,
    cache_enabled,
    cache_report,
    clear_generation_cache,
    load_batch,
    model_fingerprint,
    save_batch,
)

QUESTIONS = ["What is the capital of France?", "Name three primary colors.", "What is 2+2?"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache on, in a fresh folder, with the counts reset."""
    monkeypatch.setenv("WORKBOOK_GENERATION_CACHE", "1")
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))
    COUNTS.reset()
    yield tmp_path / "generations"
    COUNTS.reset()


def fields(gens, *, timing: bool = True):
    """The Generation fields to compare (without ``cached``; without the timings when ``timing`` is False)."""
    drop = {"cached"} | (set() if timing else {"seconds", "batch_seconds"})
    return [{k: v for k, v in asdict(g).items() if k not in drop} for g in gens]


def test_the_cache_is_off_in_tests_unless_turned_on(monkeypatch):
    assert not cache_enabled()
    monkeypatch.setenv("WORKBOOK_GENERATION_CACHE", "on")
    assert cache_enabled()


def test_store_and_load_round_trip(cache):
    assert load_batch("ab" * 32) is None
    save_batch("ab" * 32, [{"text": "x"}])
    assert load_batch("ab" * 32) == [{"text": "x"}]
    (cache / "ab" / f"{'ab' * 32}.json").write_text("{not json")
    assert load_batch("ab" * 32) is None  # a damaged entry is a miss, not an error
    assert clear_generation_cache() == 1 and not cache.exists()


def test_key_depends_on_every_text_and_its_order():
    context = {"model": "m", "decoding": {"max_new_tokens": 8}}
    key = batch_key(context, ["a", "b"])
    assert key == batch_key(dict(context), ["a", "b"])
    assert len({key, batch_key(context, ["b", "a"]), batch_key(context, ["a", "c"]), batch_key(context, ["a"]),
                batch_key({**context, "decoding": {"max_new_tokens": 9}}, ["a", "b"])}) == 5


@pytest.mark.slow
def test_a_hit_returns_exactly_what_generation_returns(llm, cache, monkeypatch):
    first = generate(llm, QUESTIONS, max_new_tokens=12, batch_size=2)
    assert (COUNTS.hits, COUNTS.misses) == (0, 3) and not any(g.cached for g in first)
    again = generate(llm, QUESTIONS, max_new_tokens=12, batch_size=2)
    assert (COUNTS.hits, COUNTS.misses) == (3, 3) and all(g.cached for g in again)
    assert fields(again) == fields(first)  # the stored seconds too: they say what generating it cost
    assert "3 of 6 answers reused, 3 generated" in cache_report()
    fresh = generate(llm, QUESTIONS, max_new_tokens=12, batch_size=2, cache=False)
    assert fields(fresh, timing=False) == fields(first, timing=False)  # what the model gives without the cache
    assert not any(g.cached for g in fresh) and (COUNTS.hits, COUNTS.misses) == (3, 3)  # cache=False: not counted
    monkeypatch.setenv("WORKBOOK_GENERATION_CACHE", "0")
    assert not any(g.cached for g in generate(llm, QUESTIONS[:1], max_new_tokens=12))
    assert "off" in cache_report()


@pytest.mark.slow
def test_any_change_of_prompt_settings_or_weights_misses(llm, cache):
    generate(llm, QUESTIONS[:2], max_new_tokens=8)
    misses = COUNTS.misses
    for kwargs in ({"max_new_tokens": 9}, {"stop": ["."]}, {"system": "Be brief."}, {"chat": False}):
        generate(llm, QUESTIONS[:2], **{"max_new_tokens": 8, **kwargs})
        assert COUNTS.misses == misses + 2, kwargs
        misses = COUNTS.misses
    generate(llm, [QUESTIONS[0], QUESTIONS[1] + " "], max_new_tokens=8)  # one character of one prompt
    assert COUNTS.misses == misses + 2
    sampled = generate(llm, QUESTIONS[:2], max_new_tokens=8, temperature=0.8)
    assert COUNTS.misses == misses + 2 and not any(g.cached for g in sampled)  # sampling is never cached

    before = model_fingerprint(llm)
    weight = llm.model.get_output_embeddings().weight
    with torch.no_grad():
        weight[0, 0] += 1.0  # one weight of the model, changed in place
    try:
        assert model_fingerprint(llm) != before
        hits = COUNTS.hits
        generate(llm, QUESTIONS[:2], max_new_tokens=8)
        assert COUNTS.hits == hits
    finally:
        with torch.no_grad():
            weight[0, 0] -= 1.0
    assert model_fingerprint(llm) == before


@pytest.mark.slow
def test_an_adapter_changes_the_fingerprint(cache):
    from peft import LoraConfig, get_peft_model

    from helpers.runtime.models import load_llm

    base = load_llm()
    plain = model_fingerprint(base)
    tuned = replace(base, model=get_peft_model(base.model, LoraConfig(r=2, target_modules=["q_proj"])))
    with_adapter = model_fingerprint(tuned)
    assert with_adapter != plain  # even before training: B = 0 gives the same outputs, but it is another model
    lora_b = next(p for n, p in tuned.model.named_parameters() if "lora_B" in n)
    with torch.no_grad():
        lora_b.add_(0.01)  # what a training step does
    assert model_fingerprint(tuned) not in {plain, with_adapter}


def test_recorded_generations_are_read_after_the_local_cache_and_can_be_turned_off(cache, tmp_path, monkeypatch):
    import helpers.runtime.generation_cache as gc

    recorded = tmp_path / "recorded"
    monkeypatch.setattr(gc, "RECORDED_FOLDER", recorded)
    key, other = "cd" * 32, "ef" * 32
    save_batch(key, [{"text": "recorded"}], {"answer_code": 7, "numerics": {"threads": 2}})
    save_batch(other, [{"text": "old code"}], {"answer_code": 6, "numerics": {"threads": 2}})
    manifest = gc.record_generations(7, recorded)
    assert (manifest["batches"], manifest["answers"], manifest["answer_code"]) == (1, 1, 7)  # old code: left out
    assert [e["key"] for e in gc.recorded_entries(recorded)] == [key]
    clear_generation_cache()
    monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", "1")
    assert load_batch(key) == [{"text": "recorded"}] and load_batch(other) is None
    save_batch(key, [{"text": "local"}])
    assert load_batch(key) == [{"text": "local"}]  # the local cache comes first
    clear_generation_cache()
    monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", "0")
    assert load_batch(key) is None
    with pytest.raises(RuntimeError, match="run the workbook first"):
        gc.record_generations(7, recorded)  # an empty local cache never wipes the recording


@pytest.mark.slow
def test_the_key_does_not_depend_on_where_the_model_was_loaded_from(llm):
    from copy import copy

    from helpers.runtime.generation_cache import tokenizer_identity

    moved = copy(llm.tokenizer)
    moved.name_or_path = "/somewhere/else/" + str(llm.tokenizer.name_or_path)
    assert tokenizer_identity(moved) == tokenizer_identity(llm.tokenizer)


@pytest.mark.slow
def test_the_answer_code_version_is_in_every_key_and_the_code_text_is_not(llm):
    """Bumping ANSWER_CODE_VERSION changes every key; the source of the answer code is not read at all (a
    comment in it changes nothing: ``tests/test_golden.py::test_a_comment_changes_nothing``)."""
    import helpers.runtime.generation_cache as gc
    from helpers.generation import ANSWER_CODE_VERSION

    decoding = {"max_new_tokens": 8}
    now = gc.batch_key(gc.call_context(llm, decoding, ANSWER_CODE_VERSION), ["a"])
    assert now != gc.batch_key(gc.call_context(llm, decoding, ANSWER_CODE_VERSION + 1), ["a"])


def test_numerics_are_stored_but_not_keyed():
    context = {"version": 4, "model": "m", "decoding": {"max_new_tokens": 8}, "answer_code": 1}
    here = {**context, "numerics": {"cpu_kernels": "AVX512", "threads": 2}}
    laptop = {**context, "numerics": {"cpu_kernels": "AVX2", "threads": 8}}
    assert batch_key(here, ["q"]) == batch_key(laptop, ["q"])  # another machine finds the recorded answer
    assert batch_key(here, ["q"]) != batch_key({**here, "answer_code": 2}, ["q"])
    assert batch_key(here, ["q"]) != batch_key(here, ["q "])  # anything a participant changes misses


def test_replay_modes_any_strict_and_off(cache, tmp_path, monkeypatch):
    import helpers.runtime.generation_cache as gc

    recorded = tmp_path / "recorded"
    monkeypatch.setattr(gc, "RECORDED_FOLDER", recorded)
    here = gc.numerics()
    elsewhere = {**here, "cpu_kernels": "SOMETHING ELSE", "threads": here["threads"] + 7}
    key = "ab" * 32
    save_batch(key, [{"text": "recorded elsewhere"}], {"answer_code": 7, "numerics": elsewhere})
    gc.record_generations(7, recorded)
    clear_generation_cache()
    for value, expected in [("1", ("recorded", [{"text": "recorded elsewhere"}])), ("", ("recorded", [{"text": "recorded elsewhere"}])),
                            ("strict", None), ("0", None)]:
        monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", value)
        assert gc.find_batch(key) == expected, value
    monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", "strict")
    assert gc.find_batch(key, elsewhere) == ("recorded", [{"text": "recorded elsewhere"}])  # identical numerics
    monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", "sometimes")
    with pytest.raises(ValueError, match="WORKBOOK_RECORDED_GENERATIONS='sometimes': use 1"):
        gc.find_batch(key)


def test_the_replay_report_says_where_answers_came_from(monkeypatch, tmp_path):
    import json

    import helpers.runtime.generation_cache as gc

    monkeypatch.setattr(gc, "RECORDED_FOLDER", tmp_path)
    reference = {**gc.numerics(), "cpu_kernels": "AVX512", "threads": 2}
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"numerics": [json.dumps(reference)]}))
    monkeypatch.setattr(gc, "numerics", lambda: {**reference, "cpu_kernels": "AVX2", "threads": 8})
    monkeypatch.setenv("WORKBOOK_GENERATION_CACHE", "1")
    monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", "1")
    counts = gc.CacheCounts(hits=3, replayed=40, misses=5)
    report = gc.replay_report(counts)
    assert report.startswith("answers: 40 replayed from the reference run, 3 reused from this machine's cache, "
                             "5 generated here")
    assert "AVX512 kernels, 2 threads" in report and "this machine: " in report and "AVX2 kernels, 8 threads" in report
    assert "replayed on any numerics" in report
    assert gc.cache_report(counts) == "generation cache: 43 of 48 answers reused, 5 generated"
    monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", "strict")
    assert "(strict)" in gc.replay_report(counts)
    monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", "0")
    assert gc.replay_report(counts).endswith("(recorded answers off: WORKBOOK_RECORDED_GENERATIONS=0)")

"""The recorded generations (``generations/``) are what the current code and model give: every entry was made
by this code and its key is the key of its own contents, and a sample, generated again here, matches word for
word. A stale recording fails here (rebuild it with ``make generations``)."""

from __future__ import annotations

import json

import pytest

from helpers.generation import ANSWER_CODE_VERSION, generate_stored
from helpers.runtime.generation_cache import (
    CACHE_VERSION,
    RECORDED_FOLDER,
    batch_key,
    model_fingerprint,
    numerics,
    recorded_entries,
)

ENTRIES = recorded_entries()
REBUILD = ("the recorded generations are stale: run `make generations` (the whole workbook, ~90 min on 2 cores); "
           "if the answer code changed what it returns, bump ANSWER_CODE_VERSION in helpers/generation.py first")


def test_the_recording_is_there_and_its_manifest_counts_it():
    manifest = json.loads((RECORDED_FOLDER / "MANIFEST.json").read_text(encoding="utf-8"))
    assert ENTRIES, "generations/ is empty"
    assert manifest["batches"] == len(ENTRIES)
    assert manifest["answers"] == sum(len(e["generations"]) for e in ENTRIES)


def test_every_entry_was_made_by_this_answer_code_version_and_is_keyed_by_its_contents():
    for entry in ENTRIES:
        context = entry["context"]
        assert (context["version"], context["answer_code"]) == (CACHE_VERSION, ANSWER_CODE_VERSION), REBUILD
        texts = [g["prompt"] for g in entry["generations"]]
        assert batch_key(context, texts) == entry["key"], "an entry's key is not the key of its contents"


@pytest.mark.slow
def test_a_sample_generated_again_gives_the_recorded_answers(llm):
    here = numerics()
    if not any(e["context"]["numerics"] == here for e in ENTRIES):
        pytest.skip(f"recorded on other numerics than this machine's {here}: never used here")
    fingerprint = model_fingerprint(llm)
    base = [e for e in ENTRIES if e["context"]["model"] == fingerprint and e["context"]["numerics"] == here]
    assert base, "no recorded answer of the default model on these numerics: the model or its loading changed"
    # three batches spread over the recording (the keys are hashes, so this is an arbitrary but fixed sample)
    for entry in (base[0], base[len(base) // 2], base[-1]):
        recorded = entry["generations"]
        again = generate_stored(llm, [g["prompt"] for g in recorded], entry["context"]["decoding"])
        assert [(g.text, g.completion_tokens, g.finish_reason) for g in again] == \
            [(g["text"], g["completion_tokens"], g["finish_reason"]) for g in recorded], REBUILD

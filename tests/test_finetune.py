"""Fine-tuning helpers: example building, loss masking, LoRA parameter counts, train/save/reload/merge."""

from __future__ import annotations

import json

import pytest

from helpers.adapters import AdapterError, LoraSettings, load_adapter, merge_adapter, read_training_run
from helpers.evaluation import contains_match
from helpers.finetune import (
    SFTExample,
    count_lora_parameters,
    count_parameters,
    task_a_examples,
    task_b_examples,
    tokenize_example,
    train_lora,
)
from helpers.generation import generate, to_messages
from helpers.prompts import ABSTAIN_ANSWER
from helpers.rag import parse_json_answer
from helpers.workbook.data import load_kb, load_kb_questions


@pytest.fixture(scope="module")
def bm25():
    from helpers.retrieval import build_retriever

    return build_retriever(load_kb(), method="bm25")


def test_examples_never_use_test_questions(bm25):
    with pytest.raises(ValueError, match="test"):
        task_a_examples(load_kb_questions("test")[:3], bm25)
    with pytest.raises(ValueError, match="test"):
        task_b_examples(load_kb_questions("test")[:3])


def test_task_a_targets_are_answerable_from_their_context(bm25):
    questions = load_kb_questions("train")
    examples = task_a_examples(questions, bm25, k=3, abstain_share=0.5, seed=1)
    by_id = {q.id: q for q in questions}
    chunk_text = {c.chunk_id: c.text for c in bm25.chunks.values()}
    kinds = {e.kind for e in examples}
    assert {"answer", "abstain (unanswerable)", "abstain (no support retrieved)"} <= kinds
    for e in examples:
        target = parse_json_answer(e.target)
        prompt = e.messages[-1]["content"]
        q = by_id[e.question_id]
        assert e.question == q.question
        if e.kind == "answer":
            assert target["answer"] == q.answer and target["sources"]
            for chunk_id in target["sources"]:  # every cited chunk is in the prompt and holds the answer
                assert f"[{chunk_id}]" in prompt
                assert contains_match(chunk_text[chunk_id], q.gold())
        else:
            assert target == {"answer": ABSTAIN_ANSWER, "sources": []}
            assert not any(f"[{d}#" in prompt for d in q.doc_ids), "abstain contexts hold no supporting chunk"


def test_task_b_uses_the_updated_answers_when_asked():
    questions = [q for q in load_kb_questions("dev") if q.changes_on_update]
    assert [e.target for e in task_b_examples(questions)] == [q.answer for q in questions]
    assert [e.question for e in task_b_examples(questions)] == [q.question for q in questions]
    assert [e.target for e in task_b_examples(questions, updated=True)] == [q.answer_after_update for q in questions]


@pytest.mark.slow
def test_loss_is_masked_to_the_assistant_answer(llm):
    example = SFTExample(to_messages("What colour is the sky?"), "Blue.")
    row = tokenize_example(llm.tokenizer, example)
    masked = sum(1 for x in row["labels"] if x == -100)
    answer_ids = [x for x in row["labels"] if x != -100]
    assert masked > 5 and row["labels"][masked:] == row["input_ids"][masked:]
    assert llm.tokenizer.decode(answer_ids).startswith("Blue.")
    assert len(row["input_ids"]) == len(row["attention_mask"]) == len(row["labels"])
    assert tokenize_example(llm.tokenizer, example, max_length=5) is None


@pytest.mark.slow
def test_lora_parameter_count_matches_peft(tmp_path):
    from helpers.finetune import add_lora
    from helpers.runtime.models import load_llm

    fresh = load_llm()
    lora = LoraSettings(r=4, target_modules=("q_proj", "v_proj"))
    predicted = count_lora_parameters(fresh.model, lora)
    add_lora(fresh, lora)
    trainable, total = count_parameters(fresh.model)
    assert trainable == predicted["lora_parameters"] and predicted["layers"] == 2 * 30
    with pytest.raises(ValueError, match="not layers"):
        add_lora(load_llm(), LoraSettings(target_modules=("query_key_value",)))


@pytest.mark.slow
def test_train_save_reload_and_merge_give_the_same_answers(tmp_path):
    from helpers.runtime.models import load_llm

    examples = [SFTExample(to_messages(f"Code word {i}?"), f"ZEBRA-{i}") for i in range(4)]
    model = load_llm(dtype="fp32")  # as load_base_for_training and notebook 04 load it on CPU
    run = train_lora(model, examples, tmp_path / "adapter",
                     lora=LoraSettings(steps=3, batch_size=2, learning_rate=5e-3, seed=7), progress=False)
    assert run.steps == 3 and run.examples == 4 and len(run.losses) == 3 and run.peak_rss_gb > 0
    assert 0 < run.trainable_share < 0.01
    prompts = [e.messages for e in examples[:2]]
    trained = [g.text for g in generate(model, prompts, max_new_tokens=8)]
    reloaded = load_adapter(tmp_path / "adapter", load_llm(dtype="fp32"))
    assert [g.text for g in generate(reloaded, prompts, max_new_tokens=8)] == trained
    merged = merge_adapter(reloaded)
    assert [g.text for g in generate(merged, prompts, max_new_tokens=8)] == trained
    assert json.loads((tmp_path / "adapter" / "training.json").read_text())["steps"] == 3


@pytest.mark.slow
def test_low_memory_training_gives_the_same_losses_with_less_memory(tmp_path):
    """Gradient checkpointing recomputes activations; it must not change what is learned."""
    from helpers.runtime.models import load_llm

    examples = [SFTExample(to_messages(f"Code word {i}? " + "Some context. " * 60), f"ZEBRA-{i}") for i in range(2)]
    lora = LoraSettings(steps=2, batch_size=1, learning_rate=5e-3, seed=7)
    plain = train_lora(load_llm(dtype="fp32"), examples, tmp_path / "plain", lora=lora, progress=False)
    low = train_lora(load_llm(dtype="fp32"), examples, tmp_path / "low", lora=lora, progress=False, low_memory=True)
    assert [round(loss, 4) for _, loss in low.losses] == [round(loss, 4) for _, loss in plain.losses]


@pytest.mark.slow
def test_adapters_train_in_fp32_and_answer_in_the_profiles_dtype(tmp_path, monkeypatch):
    import torch

    from helpers.runtime.adapter_cache import load_or_train_adapter

    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))
    monkeypatch.setenv("WORKBOOK_DTYPE", "bf16")
    examples = [SFTExample(to_messages(f"Code word {i}?"), f"ZEBRA-{i}") for i in range(4)]
    lora = LoraSettings(steps=2, batch_size=2, learning_rate=5e-3, seed=7)
    trained, run = load_or_train_adapter("dtype-test", examples, lora=lora, progress=False)
    cached, again = load_or_train_adapter("dtype-test", examples, lora=lora, progress=False)
    assert not run.loaded_from_cache and again.loaded_from_cache
    assert trained.dtype == cached.dtype == torch.bfloat16  # trained in fp32, answers in the profile's dtype
    prompts = [e.messages for e in examples[:2]]
    texts = [g.text for g in generate(trained, prompts, max_new_tokens=6)]
    assert [g.text for g in generate(cached, prompts, max_new_tokens=6)] == texts  # just trained = from the cache


def test_incomplete_adapter_folder_is_refused_clearly(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(AdapterError, match="not a complete saved adapter"):
        read_training_run(tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"x")
    (tmp_path / "training.json").write_text("{broken")
    with pytest.raises(AdapterError, match="unreadable"):
        read_training_run(tmp_path)
    with pytest.raises(AdapterError):
        load_adapter(tmp_path / "missing")

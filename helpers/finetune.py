"""LoRA fine-tuning with transformers + peft: training examples, loss masking, training.

:func:`task_a_examples` / :func:`task_b_examples` build chat examples from train/dev questions (never
``test``); :func:`tokenize_example` masks the loss to the assistant's tokens; :func:`train_lora` adds
low-rank adapters, trains and saves them (:mod:`helpers.adapters`). The cache of trained adapters
(``load_or_train_adapter``) wraps it from outside (:mod:`helpers.runtime.adapter_cache`). On CUDA the base
trains in bf16 (or fp16), in 4 bits with ``qlora=True`` and bitsandbytes; on CPU in fp32, or under bf16
autocast with ``cpu_bf16=True`` where the CPU has native bf16.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.adapters import (
    ALL_LINEAR,
    LoraSettings,
    TrainingRun,
    check_adapter_target,
    peak_rss_gb,
    save_adapter,
)
from helpers.chunking import Hit
from helpers.evaluation import contains_match
from helpers.generation import to_messages
from helpers.prompts import (
    ABSTAIN_ANSWER,
    SHORT_ANSWER,
    Message,
    closed_book_prompt,
    json_answer,
    json_rag_prompt,
)
from helpers.runtime.config import get_settings
from helpers.runtime.models import load_llm, resolve_device
from helpers.workbook.data import load_kb_questions

if TYPE_CHECKING:
    from helpers.retrieval import Retriever
    from helpers.runtime.models import LLM
    from helpers.workbook.data import Question


@dataclass
class SFTExample:
    """One supervised example: the question, the prompt as chat messages, the assistant's target."""

    messages: list[Message]
    target: str
    kind: str = ""  # e.g. "answer", "abstain (no support retrieved)", "fact"
    question_id: str = ""
    question: str = ""


# --------------------------------------------------------------------------- examples
def _support_chunks(question: Question, retriever: Retriever) -> list[Hit]:
    """Chunks of the question's supporting documents that contain the gold answer."""
    found = []
    for doc_id in question.doc_ids:
        for chunk in retriever.chunks_of(doc_id):
            if contains_match(chunk.text, question.gold()):
                found.append(Hit(chunk.doc_id, chunk.chunk_id, chunk.text, 0.0))
    return found


def task_a_examples(
    questions: Sequence[Question],
    retriever: Retriever,
    *,
    k: int = 3,
    abstain_share: float = 0.25,
    seed: int | None = None,
) -> list[SFTExample]:
    """JSON answer-with-sources examples on retrieved context (task A of notebook 04).

    Answerable questions get their top-``k`` chunks from ``retriever`` (the one used at question time);
    if none holds the answer, the best chunk that does replaces the last. Target: ``{"answer": <gold>,
    "sources": [<chunk ids holding it>]}``. A share ``abstain_share`` of them (chosen with ``seed``)
    also yields an *abstain* example with the supporting documents' chunks (and any chunk holding the answer) removed, as do unanswerable
    questions on their retrieved context: target ``{"answer": "I don't know", "sources": []}``.
    ``questions`` come from ``train``/``dev``; a ``test`` question raises ``ValueError``."""
    if any(q.split == "test" for q in questions):
        raise ValueError("Training examples must not use test questions (notebook 05 evaluates on them).")
    rng = random.Random(get_settings().seed if seed is None else seed)
    examples: list[SFTExample] = []
    for q in questions:
        hits = retriever.search(q.question, k=k)
        if not q.answerable:
            examples.append(SFTExample(to_messages(json_rag_prompt(q.question, hits)),
                                       json_answer(ABSTAIN_ANSWER), "abstain (unanswerable)", q.id, q.question))
            continue
        context = hits
        holding = [h for h in context if h.doc_id in q.doc_ids and contains_match(h.text, q.gold())]
        if not holding:
            support = _support_chunks(q, retriever)
            if not support:
                continue  # the answer is spread over several chunks: no clean target
            context = [*context[:k - 1], support[0]]
            holding = [support[0]]
        examples.append(SFTExample(to_messages(json_rag_prompt(q.question, context)),
                                   json_answer(q.answer, [h.chunk_id for h in holding]), "answer", q.id, q.question))
        if rng.random() < abstain_share:
            deeper = retriever.search(q.question, k=k + 8)  # enough hits left once the support is removed
            unsupported = [h for h in deeper if h.doc_id not in q.doc_ids and not contains_match(h.text, q.gold())][:k]
            examples.append(SFTExample(to_messages(json_rag_prompt(q.question, unsupported)),
                                       json_answer(ABSTAIN_ANSWER), "abstain (no support retrieved)", q.id,
                                       q.question))
    rng.shuffle(examples)
    return examples


def task_b_examples(questions: Sequence[Question], *, updated: bool = False,
                    instruction: str = SHORT_ANSWER) -> list[SFTExample]:
    """Closed-book fact examples (task B): the question alone, the gold answer (post-update with
    ``updated=True``) as target; unanswerable questions are skipped (no fact to learn)."""
    if any(q.split == "test" for q in questions):
        raise ValueError("Training examples must not use test questions (notebook 05 evaluates on them).")
    return [SFTExample(to_messages(closed_book_prompt(q.question, instruction=instruction)),
                       q.gold(updated)[0], "fact", q.id, q.question)
            for q in questions if q.answerable]


# --------------------------------------------------------------------------- tokenization
def render_example(tokenizer: Any, example: SFTExample) -> tuple[str, str]:
    """``(prompt_text, completion_text)``: the chat template applied to the prompt (with the
    assistant header) and the assistant's target including the template's end-of-turn tokens."""
    prompt = tokenizer.apply_chat_template(example.messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*example.messages, {"role": "assistant", "content": example.target}],
                                         tokenize=False)
    if not full.startswith(prompt):  # templates that rewrite earlier turns: fall back to the bare end token
        return prompt, example.target + (tokenizer.eos_token or "")
    return prompt, full[len(prompt):]


def tokenize_example(tokenizer: Any, example: SFTExample, max_length: int = 1024) -> dict[str, list[int]] | None:
    """Token ids with the loss masked to the assistant's answer (labels ``-100`` on the prompt), or
    ``None`` if longer than ``max_length``: cutting would drop the answer or the context it comes from."""
    prompt, completion = render_example(tokenizer, example)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = prompt_ids + completion_ids
    if len(ids) > max_length:
        return None
    return {"input_ids": ids, "attention_mask": [1] * len(ids),
            "labels": [-100] * len(prompt_ids) + completion_ids}


# --------------------------------------------------------------------------- LoRA
#: Task A (JSON + sources): the classic minimal target set is enough to learn a format. Steps and
#: batch size come from the profile (cpu: 60 steps of 1 example, ~2 minutes on 2 cores).
TASK_A_LORA = LoraSettings(r=8, alpha=16, dropout=0.05, target_modules=("q_proj", "v_proj"), learning_rate=2e-3)
#: Share of answerable task-A questions that also get an abstain example (context without their support),
#: chosen on the 46 dev questions by ``benchmarks/choose_abstain_share.py``: with 0.1 or 0.25 the adapter said
#: "I don't know" to 70-83% of answerable dev questions; with 0 to 5%, and it handled the most dev
#: questions right (the unanswerable train questions still give abstain examples).
TASK_A_ABSTAIN_SHARE = 0.0
#: Task B (facts closed-book): memorizing needs more capacity; short examples, so batches of 4.
TASK_B_LORA = LoraSettings(r=16, alpha=32, dropout=0.0, target_modules=ALL_LINEAR, learning_rate=2e-3, batch_size=4)


def task_b_facts() -> list[Question]:
    """The facts task B trains: every answerable train question plus the dev questions whose answer
    changes with the knowledge update (so the update experiment has trained facts to change)."""
    dev_changing = [q for q in load_kb_questions("dev") if q.changes_on_update]
    return [q for q in load_kb_questions("train") if q.answerable] + dev_changing


def cpu_has_bf16() -> bool:
    """True if this CPU computes bf16 natively (oneDNN reports AVX-512 BF16 or AMX), where bf16 autocast
    trains about 1.7x faster than fp32 (measured on 2 EPYC cores: 261 vs 155 tokens/s)."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def lora_config(lora: LoraSettings | None = None) -> Any:
    """A peft ``LoraConfig`` for causal-LM training from :class:`LoraSettings`."""
    from peft import LoraConfig, TaskType

    lora = lora or LoraSettings()
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=list(lora.target_modules), bias="none", task_type=TaskType.CAUSAL_LM)


def count_parameters(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def count_lora_parameters(model: Any, lora: LoraSettings | None = None) -> dict[str, float]:
    """What a LoRA config would train, from the layer shapes: each targeted ``Linear(in, out)`` gets
    ``A`` (r × in) and ``B`` (out × r), ``r * (in + out)`` parameters instead of a full ``in * out``."""
    import torch

    lora = lora or LoraSettings()
    layers = [m for n, m in model.named_modules()
              if n.rsplit(".", 1)[-1] in lora.target_modules and isinstance(m, torch.nn.Linear)]
    lora_params = sum(lora.r * (m.in_features + m.out_features) for m in layers)
    covered = sum(m.in_features * m.out_features for m in layers)
    total = sum(p.numel() for p in model.parameters())
    return {"layers": len(layers), "lora_parameters": lora_params, "share_of_model": lora_params / total,
            "full_parameters_of_those_layers": covered, "total_parameters": total}


def add_lora(llm: LLM, lora: LoraSettings | None = None) -> LLM:
    """Wrap ``llm``'s model with fresh LoRA adapters (in place) and return it.

    Raises:
        ValueError: a target module name matches no layer of this model.
    """
    from peft import get_peft_model

    lora = (lora or LoraSettings()).resolved()
    names = {n.rsplit(".", 1)[-1] for n, _ in llm.model.named_modules()}
    missing = [m for m in lora.target_modules if m not in names]
    if missing:
        linear = sorted(n for n in names if n.endswith("_proj") or n in {"c_attn", "c_proj", "query", "value"})
        raise ValueError(f"target_modules {missing} are not layers of {llm.name}; its projection layers are {linear}.")
    if lora.qlora and llm.device == "cuda":
        from peft import prepare_model_for_kbit_training

        llm.model = prepare_model_for_kbit_training(llm.model)
    llm.model = get_peft_model(llm.model, lora_config(lora))
    return llm


def load_base_for_training(name: str | None = None, lora: LoraSettings | None = None) -> LLM:
    """Load the base model for training: 4-bit (QLoRA) when asked for, on CUDA, with bitsandbytes; fp32 on
    CPU and MPS whatever the profile's inference dtype (optimizer updates need fp32; bf16 enters only as
    autocast); the profile's dtype on CUDA, where the Trainer handles bf16/fp16."""
    import importlib.util

    lora = (lora or LoraSettings()).resolved()
    device = resolve_device(None)
    if lora.qlora and device == "cuda":
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ImportError("QLoRA needs bitsandbytes: pip install bitsandbytes (CUDA only), or set qlora=False.")
        return load_llm(name, quantize_4bit=True)
    return load_llm(name, dtype=None if device == "cuda" else "fp32")


def load_base_for_inference(name: str | None = None, lora: LoraSettings | None = None) -> LLM:
    """The base model a trained adapter is put on to answer: the profile's dtype (4-bit under QLoRA on CUDA)."""
    lora = (lora or LoraSettings()).resolved()
    if lora.qlora and resolve_device(None) == "cuda":
        return load_base_for_training(name, lora)
    return load_llm(name)


class _ListDataset:
    """A minimal map-style dataset over tokenized examples (what ``Trainer`` needs)."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]


def train_lora(
    llm: LLM,
    examples: Sequence[SFTExample],
    output_dir: str | Path,
    *,
    lora: LoraSettings | None = None,
    progress: bool = True,
    low_memory: bool = False,
) -> TrainingRun:
    """Add LoRA adapters to ``llm`` (in place), train them on ``examples`` and save the adapter.

    ``low_memory=True`` recomputes each layer's activations in the backward pass instead of keeping them
    (gradient checkpointing): the same gradients for a fraction of the memory and about a third more time.

    ``transformers.Trainer`` with labels padded with ``-100`` (padding never counts in the loss), a
    linear schedule with warm-up, seeded data order and a loss log; bf16/fp16 on CUDA, fp32 on CPU (bf16
    autocast with ``lora.cpu_bf16`` on a CPU that has it).
    ``output_dir`` receives the adapter and ``training.json`` (this run's record). The model is left
    in eval mode, ready for :func:`helpers.generation.generate`."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    lora = (lora or LoraSettings()).resolved()
    if not examples:
        raise ValueError("No training examples.")
    rows = [tokenize_example(llm.tokenizer, ex, lora.max_length) for ex in examples]
    kept = [r for r in rows if r is not None]
    if not kept:
        raise ValueError(f"Every example is longer than max_length={lora.max_length} tokens.")
    output_dir = Path(output_dir)
    check_adapter_target(output_dir)  # before training, not after minutes of it
    torch.manual_seed(lora.seed)
    add_lora(llm, lora)
    trainable, total = count_parameters(llm.model)
    cuda = llm.device == "cuda"
    bf16 = torch.cuda.is_bf16_supported() if cuda else (llm.device == "cpu" and lora.cpu_bf16 and cpu_has_bf16())
    tokenizer = llm.tokenizer
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    args = TrainingArguments(
        output_dir=str(output_dir / "trainer"),
        max_steps=lora.steps,
        per_device_train_batch_size=lora.batch_size,
        learning_rate=lora.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=min(lora.warmup_steps, lora.steps // 2),
        logging_steps=max(1, lora.steps // 20),
        save_strategy="no",
        report_to=[],
        seed=lora.seed,
        data_seed=lora.seed,
        bf16=bf16,
        fp16=cuda and not bf16,
        use_cpu=llm.device == "cpu",
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if lora.group_by_length else "random",
        remove_unused_columns=False,
        gradient_checkpointing=low_memory,
        gradient_checkpointing_kwargs={"use_reentrant": False} if low_memory else None,
    )
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100, pad_to_multiple_of=8)
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "right"  # training pads on the right; generation pads on the left
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    try:
        trainer = Trainer(model=llm.model, args=args, train_dataset=_ListDataset(kept), data_collator=collator)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    finally:
        tokenizer.padding_side = padding_side
        hf_logging.set_verbosity(verbosity)
    llm.model.eval()
    losses = [(int(e["step"]), float(e["loss"])) for e in trainer.state.log_history if "loss" in e]
    run = TrainingRun(
        adapter_dir=output_dir, base_model=llm.name, steps=lora.steps, examples=len(kept),
        skipped_too_long=len(rows) - len(kept), mean_tokens=sum(len(r["input_ids"]) for r in kept) / len(kept),
        seconds=seconds, losses=losses, trainable_parameters=trainable, total_parameters=total,
        peak_rss_gb=peak_rss_gb(), peak_gpu_gb=torch.cuda.max_memory_allocated() / 1024 ** 3 if cuda else None,
        device=llm.device, lora={k: v for k, v in asdict(lora).items()},
    )
    save_adapter(llm, run)
    return run

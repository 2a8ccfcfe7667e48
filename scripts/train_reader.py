#!/usr/bin/env python3
"""Train the reader adapter (RAFT) and write ``adapters/reader/`` with its manifest: ``make adapters``.

1. Builds the RAFT examples (``helpers.workbook.reader_training.reader_examples``: the train questions and the
   written reading questions, each with the chunks the default retriever returns, the answer's chunk among
   distractors, or distractors only with an "I don't know" target).
2. Trains LoRA (``READER_LORA``) on them and saves the adapter.
3. Answers **all dev questions** with the reader (LoRA + RAG) and with plain RAG, and writes the dev metrics
   with n and 95% intervals, next to the fingerprint of the data, code and settings, the base model, the
   training log and its cost, into ``manifest.json``. The test split is never touched.

``tests/test_reader_training.py`` fails when the manifest's fingerprint no longer matches the code and
data, so a stale adapter cannot pass CI. Takes 30-45 minutes on 2 CPU cores (bf16 autocast where the CPU
has it), a few minutes on a GPU.

Usage: ``HF_HUB_OFFLINE=1 python scripts/train_reader.py [--out adapters/reader] [--abstain-share 0.2]
[--steps 220] [--questions written --out /tmp/candidate]``

``--questions`` trains a *candidate* on another question set, beside the train questions: ``templated`` (the 545
templated reading questions instead of the 345 hand-written ones the shipped reader trains on) or ``both``. Its
manifest names the set, so its fingerprint never matches the shipped reader's inputs; it must go to another
``--out`` folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.adapters import adapter_size_mb  # noqa: E402
from helpers.comparison import intervals, paired  # noqa: E402
from helpers.finetune import load_base_for_training, task_a_examples, train_lora  # noqa: E402
from helpers.retrieval import build_retriever  # noqa: E402
from helpers.runtime.config import get_settings, machine_info, seed_everything  # noqa: E402
from helpers.runtime.models import load_embedder, load_llm  # noqa: E402
from helpers.runtime.storage import atomic_folder  # noqa: E402
from helpers.systems import build_system, evaluate_systems  # noqa: E402
from helpers.workbook.data import (  # noqa: E402
    load_kb,
    load_kb_questions,
    load_reading_questions,
    load_written_reading_questions,
)
from helpers.workbook.reader import (  # noqa: E402
    READER_ABSTAIN_SHARE,
    READER_DIR,
    READER_K,
    READER_LORA,
    reader_fingerprint,
    reader_inputs,
)
from helpers.workbook.reader_training import examples_hash, reader_examples  # noqa: E402

METRICS = ("accuracy", "wrong_abstention", "abstention_ok", "JSON valid", "correct source cited")
#: ``--questions``: the reading questions trained on beside the train questions ("written" is the shipped set).
QUESTION_SETS = {"templated": load_reading_questions, "written": load_written_reading_questions,
                 "both": lambda: load_reading_questions() + load_written_reading_questions()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=READER_DIR)
    parser.add_argument("--abstain-share", type=float, default=READER_ABSTAIN_SHARE)
    parser.add_argument("--steps", type=int, default=READER_LORA.steps)
    parser.add_argument("--questions", choices=sorted(QUESTION_SETS), default="written",
                        help="reading questions beside the train questions (a candidate unless 'written')")
    args = parser.parse_args()
    candidate = args.questions != "written"
    if candidate and args.out.resolve() == READER_DIR.resolve():
        parser.error(f"--questions {args.questions} trains a candidate; give it its own --out folder "
                     "(the shipped reader trains on the written questions)")
    seed_everything()
    lora = replace(READER_LORA, steps=args.steps)
    kb = load_kb()
    retriever = build_retriever(kb, embedder=load_embedder(), cache=True)
    if candidate:  # what reader_examples does, over another question set
        questions = load_kb_questions("train") + QUESTION_SETS[args.questions]()
        examples = task_a_examples(questions, retriever, k=READER_K, abstain_share=args.abstain_share)
    else:
        examples = reader_examples(retriever, abstain_share=args.abstain_share)
    kinds = {k: sum(e.kind == k for e in examples) for k in sorted({e.kind for e in examples})}
    print(f"{len(examples)} examples: {kinds}", flush=True)

    base = load_base_for_training(None, lora)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reader"
        run = train_lora(base, examples, folder, lora=lora)
        print(f"trained in {run.seconds:.0f} s, loss {run.losses[0][1]:.3f} -> {run.losses[-1][1]:.3f}", flush=True)

        dev = load_kb_questions("dev")
        documents = {d: doc.text for d, doc in kb.items()}
        reader = build_system("lora+rag", llm=base, retriever=retriever, k=READER_K, label="LoRA reader + RAG")
        rag = build_system("rag", llm=load_llm(dtype=base.dtype), retriever=retriever, k=READER_K, label="RAG")  # the reader's dtype
        start = time.perf_counter()
        scores = evaluate_systems([rag, reader], dev, documents=documents)
        eval_seconds = time.perf_counter() - start
        table = intervals(scores, METRICS)
        print(table.to_string(), flush=True)
        test = paired(scores, "LoRA reader + RAG", "RAG")
        print(f"dev accuracy, reader - RAG: {test.difference:+.3f} (p = {test.p_value:.3g}, n = {test.n})")

        inputs = reader_inputs(base.name, lora=lora, abstain_share=args.abstain_share)
        fingerprint = reader_fingerprint(base.name, lora=lora, abstain_share=args.abstain_share)
        if candidate:  # never the shipped reader's fingerprint: load_reader refuses it as the default
            inputs["questions"] = args.questions
            fingerprint = f"candidate-{args.questions}-{fingerprint}"
        manifest = {
            "base_model": base.name,
            "fingerprint": fingerprint,
            "inputs": inputs,
            "examples": {"hash": examples_hash(examples), "total": len(examples), "kinds": kinds, "trained_on": run.examples,
                         "skipped_too_long": run.skipped_too_long, "mean_tokens": round(run.mean_tokens, 1),
                         "tokens_seen": round(run.mean_tokens * lora.steps * lora.batch_size)},
            "training": {"seconds": round(run.seconds, 1), "steps": lora.steps, "batch_size": lora.batch_size,
                         "losses": run.losses, "peak_rss_gb": round(run.peak_rss_gb, 2), "device": run.device,
                         "trainable_parameters": run.trainable_parameters, "machine": machine_info()},
            "dev": {"n": len(dev), "seconds": round(eval_seconds, 1),
                    "metrics": json.loads(table.reset_index().to_json(orient="records")),
                    "reader_minus_rag_accuracy": {"difference": test.difference, "p_value": test.p_value,
                                                  "n": test.n}},
            "profile": get_settings().profile.name,
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        record = json.loads((folder / "training.json").read_text())  # no temporary path in the shipped record
        record["adapter_dir"] = str(args.out.resolve().relative_to(ROOT)) if args.out.resolve().is_relative_to(ROOT) else args.out.name
        (folder / "training.json").write_text(json.dumps(record, indent=2) + "\n")
        config = json.loads((folder / "adapter_config.json").read_text())  # the model's name, not a cache path
        config["base_model_name_or_path"] = base.name
        (folder / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
        (folder / "README.md").unlink(missing_ok=True)  # peft's empty model card
        shutil.rmtree(folder / "trainer", ignore_errors=True)
        with atomic_folder(args.out) as staged:  # the old reader stays in place until the new one is complete
            shutil.copytree(folder, staged, dirs_exist_ok=True)
    results = ROOT / "results" / "benchmarks"
    results.mkdir(parents=True, exist_ok=True)
    stem = f"reader_dev_share{args.abstain_share:g}_steps{lora.steps}" + (f"_{args.questions}" if candidate else "")
    table.to_csv(results / f"{stem}.csv")
    scores.to_csv(results / f"{stem}_answers.csv", index=False)
    print(f"adapter -> {args.out} ({adapter_size_mb(args.out):.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

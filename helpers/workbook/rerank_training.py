"""Train the offline default re-ranker: a cross-encoder fine-tuned on the workbook's questions.

:func:`load_or_train_reranker` adds a fresh relevance head to the packaged all-MiniLM-L6-v2 and trains
it on question–passage pairs from the **train and dev** splits (never test) with hard negatives
(:func:`training_pairs`), cached under ``<cache>/rerankers/`` and retrained only if missing or stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.chunking import ChunkingConfig
from helpers.evaluation import normalize
from helpers.rerank import CrossEncoderReranker, load_cross_encoder
from helpers.retrieval import build_retriever
from helpers.runtime.config import get_settings, seed_everything
from helpers.runtime.models import packaged_model_dir
from helpers.runtime.storage import atomic_folder
from helpers.workbook.data import load_kb, load_kb_questions, load_python_faq

TRAINED_NAME = "minilm-ce-kb-faq"
TRAIN_VERSION = 2


@dataclass(frozen=True)
class TrainPair:
    """One training example for the re-ranker: 1.0 = the passage answers the query."""

    query: str
    text: str
    label: float


RERANKER_CHUNKING = ChunkingConfig("markdown", 128, 32)


def training_pairs(negatives: int = 2, seed: int = 1234) -> list[TrainPair]:
    """Question–passage pairs from the train and dev splits of the knowledge base and the Python FAQ.
    Positives: chunks of a supporting document holding the gold answer (else its best dense-ranked
    chunk), or the FAQ's gold passage; negatives: the top hybrid hits from *other* documents."""
    pairs: list[TrainPair] = []
    kb = load_kb()
    # the chunking the re-ranker was built with (independent of build_retriever's default, so changing
    # the default does not silently retrain it)
    kb_retriever = build_retriever(kb, method="hybrid", chunking=RERANKER_CHUNKING, cache=True)
    questions = [q for q in load_kb_questions(["train", "dev"]) if q.answerable]
    hits_all = kb_retriever.search_many([q.question for q in questions], k=40)
    for q, hits in zip(questions, hits_all):
        gold = set(q.doc_ids)
        golds = [normalize(g) for g in q.gold()]
        positives = [c.text for d in q.doc_ids for c in kb_retriever.chunks_of(d)
                     if any(g and f" {g} " in f" {normalize(c.text)} " for g in golds)]
        if not positives:
            positives = [h.text for h in hits if h.doc_id in gold][:1]
        pairs += [TrainPair(q.question, t, 1.0) for t in positives[:2]]
        pairs += [TrainPair(q.question, h.text, 0.0) for h in hits if h.doc_id not in gold][:negatives]
    passages, faq_questions = load_python_faq(["train", "dev"])
    by_id = {p.id: p.text for p in passages}
    faq_retriever = build_retriever(passages, method="hybrid", chunking="none",
                                    embedder=kb_retriever.embedder, cache=True)
    hits_all = faq_retriever.search_many([q.question for q in faq_questions], k=negatives + 5)
    for q, hits in zip(faq_questions, hits_all):
        pairs.append(TrainPair(q.question, by_id[q.passage_id], 1.0))
        pairs += [TrainPair(q.question, h.text, 0.0) for h in hits if h.doc_id != q.passage_id][:negatives]
    random.Random(seed).shuffle(pairs)
    return pairs


def train_cross_encoder(
    pairs: Sequence[TrainPair],
    output_dir: str | Path,
    *,
    base: str | Path | None = None,
    epochs: int = 2,
    batch_size: int = 16,
    lr: float = 1e-4,
    head_lr: float = 2e-3,
    train_layers: int = 3,
    max_length: int = 128,
    seed: int = 1234,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune a ``CrossEncoder`` (one relevance logit, binary cross-entropy), save it, return statistics.
    A plain, deterministic PyTorch loop (AdamW, linear warm-up/decay); only the top ``train_layers``
    layers and the new random head (at ``head_lr``) train, so a CPU run takes a few minutes."""
    import torch
    from sentence_transformers import CrossEncoder
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    random.seed(seed)
    base = base or packaged_model_dir("all-minilm-l6-v2")
    quiet = logging.getLogger("sentence_transformers.base.model")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "Converting <absolute local path> to CrossEncoder" is what we intend here
    try:
        ce = CrossEncoder(str(base), num_labels=1, max_length=max_length, device="cpu")
    finally:
        quiet.setLevel(level)
    model, tok = ce.model, ce.tokenizer
    model.train()
    layers = model.base_model.encoder.layer
    for param in model.base_model.parameters():
        param.requires_grad = False
    body = [p for layer in layers[len(layers) - train_layers:] for p in layer.parameters()]
    # the classifier and BERT's pooler are not in the bi-encoder checkpoint: both start random
    pooler = getattr(model.base_model, "pooler", None)
    head = [p for name, p in model.named_parameters() if not name.startswith(model.base_model_prefix)]
    head += list(pooler.parameters()) if pooler is not None else []
    for param in body + head:
        param.requires_grad = True
    optim = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": head_lr}], weight_decay=0.01)
    steps = epochs * ((len(pairs) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, 1 - s / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = list(range(len(pairs)))
    losses = []
    t0 = time.perf_counter()
    with tqdm(total=steps, desc="Training re-ranker", disable=not progress) as bar:
        for epoch in range(epochs):
            random.Random(seed + epoch).shuffle(order)
            for start in range(0, len(order), batch_size):
                batch = [pairs[i] for i in order[start:start + batch_size]]
                enc = tok([p.query for p in batch], [p.text for p in batch], truncation=True,
                          max_length=max_length, padding=True, return_tensors="pt")
                logits = model(**enc).logits.view(-1)
                loss = loss_fn(logits, torch.tensor([p.label for p in batch]))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(body + head, 1.0)
                optim.step()
                sched.step()
                optim.zero_grad()
                losses.append(loss.item())
                bar.update(1)
    seconds = time.perf_counter() - t0
    model.eval()
    output_dir = Path(output_dir)
    ce.save(str(output_dir))
    return {"pairs": len(pairs), "positives": int(sum(p.label for p in pairs)), "steps": steps,
            "epochs": epochs, "trained_layers": train_layers, "max_length": max_length, "train_seconds": seconds, "first_loss": sum(losses[:10]) / max(1, len(losses[:10])),
            "last_loss": sum(losses[-10:]) / max(1, len(losses[-10:]))}


def _pairs_digest(pairs: Sequence[TrainPair]) -> str:
    h = hashlib.sha256()
    for p in pairs:
        h.update(f"{p.query}\t{p.text}\t{p.label}\n".encode())
    return h.hexdigest()[:16]


def load_or_train_reranker(cache_dir: str | Path | None = None, *, force: bool = False,
                           progress: bool = True) -> CrossEncoderReranker:
    """The offline default re-ranker, from the cache or trained once (about a minute on 2 cores). A
    missing or different ``workbook_reranker.json`` stamp (data digest, settings, time) triggers
    retraining; ``reranker.info`` holds the stamp plus ``loaded_from_cache`` and ``load_seconds``."""
    settings = get_settings()
    folder = Path(cache_dir) if cache_dir else settings.cache_dir / "rerankers" / TRAINED_NAME
    stamp_file = folder / "workbook_reranker.json"
    t0 = time.perf_counter()
    stamp = json.loads(stamp_file.read_text()) if stamp_file.exists() else None
    cached = not force and stamp is not None and stamp.get("version") == TRAIN_VERSION
    if not cached:
        seed_everything(settings.seed)
        pairs = training_pairs(seed=settings.seed)
        with atomic_folder(folder) as tmp:
            stats = train_cross_encoder(pairs, tmp, seed=settings.seed, progress=progress)
            stamp = {"version": TRAIN_VERSION, "data_digest": _pairs_digest(pairs), "base": "all-minilm-l6-v2",
                     "splits": ["train", "dev"], **stats}
            (tmp / "workbook_reranker.json").write_text(json.dumps(stamp, indent=2))
    reranker = load_cross_encoder(folder, label=TRAINED_NAME)
    reranker.info = {**stamp, "loaded_from_cache": cached, "load_seconds": time.perf_counter() - t0}
    return reranker

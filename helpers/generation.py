"""Batched text generation with a chat template, token counts and timings.

``generate(llm, prompts)`` is the one way the notebooks talk to a language model: prompts (strings,
sent as the user turn, or chat messages) go through the model's chat template, are sorted by length
and generated in left-padded batches; decoding is greedy by default, so the same prompt gives the
same answer every time; every result carries its token counts and time.

The three steps a learner came to see are :func:`render_prompt` (the chat template), :func:`generate_batch`
(``model.generate`` on a padded batch) and :func:`cut_answer` (stop at the end token or a stop string).
Around them, greedy batches are remembered on disk (:mod:`helpers.runtime.generation_cache`): a batch already
generated with the same model, texts and settings is returned instead of being generated again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from tqdm.auto import tqdm

from helpers.prompts import Message
from helpers.runtime.config import get_settings
from helpers.runtime.generation_cache import CallCache, cache_enabled

if TYPE_CHECKING:
    from helpers.runtime.models import LLM

Prompt = str | Sequence[Message]

#: The version of the code that turns the model's output into an answer (:func:`generate_batch`,
#: :func:`cut_answer`). It is part of every generation-cache key, so bump it when that code starts returning
#: something else: every cached and recorded answer is then generated again (``make generations``). The golden
#: test ``tests/test_golden.py`` fails when the behaviour changes and says so; a comment or a refactor that
#: returns the same answers changes nothing.
ANSWER_CODE_VERSION = 1


@dataclass
class Generation:
    """One model answer with what it cost: ``text`` (special tokens removed, cut at the first stop string),
    ``prompt_tokens`` (no padding), ``completion_tokens`` (with the end token), ``seconds`` (batch wall
    time / batch size), ``batch_seconds`` (what a single user waits), ``prompt`` (the exact text the model
    saw), ``finish_reason`` (``"stop"``: end token or stop string; ``"length"``: hit max_new_tokens) and
    ``cached`` (returned from the generation cache; the seconds are those measured when it was generated)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    batch_seconds: float
    prompt: str
    finish_reason: Literal["stop", "length"]
    cached: bool = False


def to_messages(prompt: Prompt, system: str | None = None) -> list[Message]:
    """Turn a prompt into chat messages, adding ``system`` first unless one is already there."""
    if isinstance(prompt, str):
        messages: list[Message] = [{"role": "user", "content": prompt}]
    else:
        messages = [dict(m) for m in prompt]
        for m in messages:
            if not {"role", "content"} <= set(m):
                raise ValueError(f"Each chat message needs 'role' and 'content' keys, got {sorted(m)}.")
    if system is not None and not (messages and messages[0]["role"] == "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages


def render_prompt(llm: LLM, prompt: Prompt, *, system: str | None = None, chat: bool = True) -> str:
    """The exact text the model sees: with ``chat=True`` the chat template wraps the messages in the
    model's special tokens and opens the assistant's turn; ``chat=False`` passes raw text to complete
    (messages joined by blank lines), which is what a base model expects."""
    if not chat:
        if isinstance(prompt, str):
            return prompt if system is None else f"{system}\n\n{prompt}"
        return "\n\n".join(m["content"] for m in to_messages(prompt, system))
    if not getattr(llm.tokenizer, "chat_template", None):
        raise ValueError(
            f"Model {llm.name!r} has no chat template (probably a base model); call with chat=False "
            "or pick an instruct/chat model."
        )
    return llm.tokenizer.apply_chat_template(to_messages(prompt, system), tokenize=False,
                                             add_generation_prompt=True)


def _is_single_prompt(prompts: Prompt | Sequence[Prompt]) -> bool:
    return isinstance(prompts, str) or (
        isinstance(prompts, Sequence) and len(prompts) > 0 and isinstance(prompts[0], dict)
    )


def _end_token_ids(llm: LLM) -> list[int]:
    ids = {llm.tokenizer.eos_token_id}
    gen_eos = getattr(llm.model.generation_config, "eos_token_id", None)
    ids.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
    return sorted(i for i in ids if i is not None)


def generate(
    llm: LLM,
    prompts: Prompt | Sequence[Prompt],
    *,
    system: str | None = None,
    chat: bool = True,
    max_new_tokens: int | None = None,
    batch_size: int | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: Sequence[str] | None = None,
    progress: bool | None = None,
    desc: str = "Generating",
    cache: bool | None = None,
) -> list[Generation]:
    """Generate completions for one or many prompts, batched: one :class:`Generation` per prompt, in
    input order (a single prompt counts as a list of one).

    Args:
        prompts: a string, a list of chat messages, or a list of either.
        system: an optional system message put before each prompt.
        chat: apply the model's chat template (default) or send raw text.
        max_new_tokens, batch_size: default: the profile's (results do not depend on ``batch_size``).
        temperature: 0 = greedy (deterministic); > 0 samples, with ``top_p`` and ``seed`` (default:
            the configured seed, so sampled runs repeat too).
        stop: strings that end the answer; the text is cut before the first one.
        progress: show a progress bar (default: for more than one batch or >= 256 tokens to generate).
        cache: read and write the generation cache (:mod:`helpers.runtime.generation_cache`; greedy decoding
            only); default: on unless ``WORKBOOK_GENERATION_CACHE=0``. Pass ``False`` to time the model.
            The progress bar shows how many answers came from the cache.
    """
    import torch

    settings = get_settings()
    items = [prompts] if _is_single_prompt(prompts) else list(prompts)  # type: ignore[list-item]
    if not items:
        return []
    max_new_tokens = max_new_tokens or settings.profile.max_new_tokens
    if temperature < 0 or not 0 < top_p <= 1:
        raise ValueError("temperature must be >= 0 and top_p in (0, 1].")
    if hasattr(llm, "generate_many"):  # a served model (helpers.runtime.endpoint): the server does all three steps
        return llm.generate_many(items, system=system, max_new_tokens=max_new_tokens, temperature=temperature,
                                 top_p=top_p, seed=seed, stop=stop, progress=progress, desc=desc, cache=cache)
    batch_size = batch_size or settings.profile.batch_size
    tok = llm.tokenizer
    end_ids = _end_token_ids(llm)
    config = _generation_config(max_new_tokens, tok.pad_token_id, end_ids, stop, temperature, top_p)
    # 1. the chat template: the exact text the model reads
    texts = [render_prompt(llm, p, system=system, chat=chat) for p in items]
    lengths = [len(tok(t, add_special_tokens=not chat)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])  # similar lengths share a batch
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    store = None  # the generation cache, for greedy decoding only
    if temperature == 0 and (cache_enabled() if cache is None else cache):
        store = CallCache(llm, {"max_new_tokens": max_new_tokens, "end_ids": end_ids, "pad_id": tok.pad_token_id,
                                "stop": list(stop or ()), "special_tokens": not chat, "dtype": str(llm.dtype)},
                          ANSWER_CODE_VERSION)
    results: list[Generation | None] = [None] * len(texts)
    torch.manual_seed(settings.seed if seed is None else seed)
    show = progress if progress is not None else len(texts) > batch_size or len(texts) * max_new_tokens >= 256
    reused = 0
    with torch.inference_mode(), tqdm(total=len(texts), desc=desc, disable=not show) as bar:
        for idx in batches:
            batch = [texts[i] for i in idx]
            stored = store.get(batch) if store else None
            if stored is not None:
                gens = [Generation(**{**row, "cached": True}) for row in stored]
                reused += len(idx)
                bar.set_postfix_str(f"{reused} from cache", refresh=False)
            else:
                # 2. model.generate on the padded batch, 3. each answer cut at its end token
                gens = generate_batch(llm, batch, config, end_ids, stop, chat)
                if store:
                    store.put(batch, [asdict(gen) for gen in gens])
            for i, gen in zip(idx, gens):
                results[i] = gen
            bar.update(len(idx))
    return results  # type: ignore[return-value]


def tokens_per_second(llm: LLM, prompts: Sequence[Prompt], *, batch_size: int, max_new_tokens: int = 32,
                      desc: str | None = None) -> tuple[float, list[Generation]]:
    """Time the model: generate ``prompts`` in batches of ``batch_size`` with the cache off and return the
    generated tokens per second of wall time, with the generations (notebook 00's speed test)."""
    start = time.perf_counter()
    gens = generate(llm, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=True,
                    desc=desc or f"batch of {batch_size}", cache=False)
    return sum(g.completion_tokens for g in gens) / (time.perf_counter() - start), gens


def _generation_config(max_new_tokens: int, pad_id: int | None, end_ids: list[int], stop: Sequence[str] | None,
                       temperature: float, top_p: float):
    """transformers' ``GenerationConfig``: greedy when ``temperature`` is 0, else sampling with ``top_p``."""
    from transformers import GenerationConfig

    sampling = temperature > 0
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=sampling,
        temperature=temperature if sampling else None,
        top_p=top_p if sampling else None,
        top_k=None,
        pad_token_id=pad_id,
        eos_token_id=end_ids,
        stop_strings=list(stop) if stop else None,
    )


def generate_stored(llm: LLM, texts: Sequence[str], decoding: dict) -> list[Generation]:
    """Generate a stored batch again, cache off: its rendered ``texts`` in order, greedy, with the ``decoding``
    settings of its cache context (how the recording is checked against the model)."""
    import torch

    config = _generation_config(decoding["max_new_tokens"], decoding["pad_id"], decoding["end_ids"],
                                decoding["stop"], 0.0, 1.0)
    with torch.inference_mode():
        return generate_batch(llm, list(texts), config, decoding["end_ids"], decoding["stop"],
                              not decoding["special_tokens"])


def generate_batch(llm: LLM, texts: list[str], config, end_ids: list[int], stop: Sequence[str] | None,
                   chat: bool) -> list[Generation]:
    """One left-padded batch through ``model.generate``; the batch's wall time is shared by its prompts."""
    tok = llm.tokenizer
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=not chat).to(llm.device)
    t0 = time.perf_counter()
    out = llm.model.generate(**enc, generation_config=config, tokenizer=tok)
    elapsed = time.perf_counter() - t0
    new_tokens = out[:, enc["input_ids"].shape[1]:].tolist()
    return [cut_answer(new_tokens[row], tok, end_ids, stop, text, int(enc["attention_mask"][row].sum()), elapsed,
                       len(texts)) for row, text in enumerate(texts)]


def cut_answer(ids: list[int], tok, end_ids: list[int], stop: Sequence[str] | None, prompt: str,
               prompt_tokens: int, elapsed: float, n_in_batch: int) -> Generation:
    """Cut padding after the end token, decode, apply stop strings, count tokens."""
    finish: Literal["stop", "length"] = "length"
    for pos, token in enumerate(ids):
        if token in end_ids:
            ids, finish = ids[: pos + 1], "stop"
            break
    text = tok.decode(ids, skip_special_tokens=True)
    for s in stop or ():
        cut = text.find(s)
        if cut >= 0:
            text, finish = text[:cut], "stop"
    return Generation(text=text.strip(), prompt_tokens=prompt_tokens, completion_tokens=len(ids),
                      seconds=elapsed / n_in_batch, batch_seconds=elapsed, prompt=prompt,
                      finish_reason=finish)


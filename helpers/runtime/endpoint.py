"""Generate through an OpenAI-compatible server instead of a model loaded in this process.

A team's model is often served: vLLM, Ollama, an internal gateway, a hosted API, or ``llm-workbook serve``
(``transformers serve`` on the workbook's model) on the strongest machine in a training room. An
:class:`Endpoint` stands where a loaded model stands: :func:`helpers.generation.generate` hands it the
prompts, and it sends them as chat completions through the ``openai`` client, with a bounded number of
requests in flight (so the server can batch them), a timeout, and retries with backoff on HTTP 429 and 5xx
(the client's own). Greedy answers go through the generation cache under the endpoint's identity (its
URL and model name), so an answer is never replayed across models; the API key is read from the
environment (``WORKBOOK_LLM_API_KEY``, else ``OPENAI_API_KEY``) and is never stored or printed.

What the server does not tell, the endpoint does not know: there is no tokenizer here, so prompts are
not trimmed to a context window (the server refuses a prompt that is too long), and token counts are the
server's ``usage`` figures.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm.auto import tqdm

from helpers.generation import Generation, Prompt, to_messages
from helpers.runtime.config import get_settings
from helpers.runtime.generation_cache import CallCache, cache_enabled

#: The version of the code that turns a server's reply into an answer (:func:`_answer`); part of every
#: cache key of an endpoint's answers, like :data:`helpers.generation.ANSWER_CODE_VERSION` for local ones.
ENDPOINT_ANSWER_VERSION = 1
KEY_VARIABLES = ("WORKBOOK_LLM_API_KEY", "OPENAI_API_KEY")


class EndpointError(RuntimeError):
    """The server cannot be reached, refuses the key, or does not serve the model (one sentence)."""


def _api_key() -> str:
    return next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), "not-needed")


def normalize_url(url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1`` (OpenAI clients expect the ``/v1`` base)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise EndpointError(f"--endpoint must be an http(s) URL such as http://localhost:8000/v1, not {url!r}.")
    return url if url.endswith("/v1") else f"{url}/v1"


@dataclass
class Endpoint:
    """A model served behind an OpenAI-compatible URL; pass it wherever a loaded model goes."""

    url: str
    model: str
    max_in_flight: int = 8
    timeout: float = 300.0
    retries: int = 4
    device: str = "endpoint"
    _client: Any = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.model} @ {self.url}"

    @property
    def client(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(base_url=self.url, api_key=_api_key(), timeout=self.timeout,
                                  max_retries=self.retries)
        return self._client

    def identity(self) -> str:
        """What the cache keys on: the URL and the model name (never the key)."""
        return f"endpoint|{self.url}|{self.model}"

    def generate_many(self, items: Sequence[Prompt], *, system: str | None, max_new_tokens: int,
                      temperature: float, top_p: float, seed: int | None, stop: Sequence[str] | None,
                      progress: bool | None, desc: str, cache: bool | None) -> list[Generation]:
        """One :class:`~helpers.generation.Generation` per prompt, in input order (what ``generate`` returns)."""
        messages = [to_messages(p, system) for p in items]
        texts = [json.dumps(m, ensure_ascii=False) for m in messages]
        store = None
        if temperature == 0 and (cache_enabled() if cache is None else cache):
            decoding = {"max_new_tokens": max_new_tokens, "stop": list(stop or ())}
            store = CallCache(None, decoding, ENDPOINT_ANSWER_VERSION, model=self.identity(),
                              numerics_={"endpoint": self.url})  # the server's numerics are not ours
        results: list[Generation | None] = [None] * len(items)
        todo = []
        for i, text in enumerate(texts):
            stored = store.get([text]) if store else None
            if stored is not None:
                results[i] = Generation(**{**stored[0], "cached": True})
            else:
                todo.append(i)
        request = {"model": self.model, "max_tokens": max_new_tokens, "temperature": temperature,
                   **({"top_p": top_p} if temperature > 0 else {}),
                   **({"seed": seed if seed is not None else get_settings().seed} if temperature > 0 else {}),
                   **({"stop": list(stop)} if stop else {})}
        show = progress if progress is not None else len(todo) > 1
        with ThreadPoolExecutor(max_workers=max(1, self.max_in_flight)) as pool, \
                tqdm(total=len(items), initial=len(items) - len(todo), desc=desc, disable=not show) as bar:
            futures = {i: pool.submit(self._ask, messages[i], texts[i], request, stop) for i in todo}
            for i, future in futures.items():
                results[i] = future.result()
                if store:
                    store.put([texts[i]], [asdict(results[i])])
                bar.update(1)
        return results  # type: ignore[return-value]

    def _ask(self, messages: list[dict], text: str, request: dict, stop: Sequence[str] | None) -> Generation:
        start = time.perf_counter()
        with one_sentence_errors(self):
            reply = self.client.chat.completions.create(messages=messages, **request)
        return _answer(reply, text, time.perf_counter() - start, stop)


@contextmanager
def one_sentence_errors(endpoint: Endpoint) -> Iterator[None]:
    """Turn the ``openai`` client's HTTP and connection errors into one :class:`EndpointError` sentence."""
    import openai

    try:
        yield
    except openai.APIStatusError as err:
        raise EndpointError(describe_status(endpoint, err.status_code, _message(err))) from None
    except openai.APIConnectionError:
        raise EndpointError(f"Cannot reach {endpoint.url}: is the server running, and is the URL right?") from None


def _message(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        return str(inner.get("message", inner) if isinstance(inner, dict) else inner)[:200]
    return str(getattr(err, "message", err))[:200]


def describe_status(endpoint: Endpoint, status: int, detail: str = "") -> str:
    """One sentence for an HTTP error from the server."""
    if status == 401 or status == 403:
        return (f"The server at {endpoint.url} refused the request (HTTP {status}): set the API key in "
                f"{KEY_VARIABLES[0]} (never on the command line).")
    if status == 404:
        return f"The server at {endpoint.url} has no model {endpoint.model!r} (HTTP 404): check --llm."
    return f"The server at {endpoint.url} answered HTTP {status}{': ' + detail if detail else ''}."


def _answer(reply: Any, text: str, seconds: float, stop: Sequence[str] | None) -> Generation:
    """A server's chat completion as a :class:`~helpers.generation.Generation` (cut at stop strings here too:
    not every server honours ``stop``)."""
    choice = reply.choices[0]
    answer = choice.message.content or ""
    finish = "length" if choice.finish_reason == "length" else "stop"
    for s in stop or ():
        cut = answer.find(s)
        if cut >= 0:
            answer, finish = answer[:cut], "stop"
    usage = getattr(reply, "usage", None)
    return Generation(text=answer.strip(), prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                      completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0), seconds=seconds,
                      batch_seconds=seconds, prompt=text, finish_reason=finish)


def connect(url: str, model: str | None = None, *, max_in_flight: int = 8, timeout: float = 300.0) -> Endpoint:
    """An :class:`Endpoint` after checking that the server answers and serves ``model`` (default: the one
    model it serves).

    Raises:
        EndpointError: unreachable URL, refused key, HTTP error, or an unknown model name (one sentence).
    """
    endpoint = Endpoint(normalize_url(url), model or "", max_in_flight=max_in_flight, timeout=timeout, retries=2)
    with one_sentence_errors(endpoint):
        served = [m.id for m in endpoint.client.models.list()]
    if model is None:
        if len(served) != 1:
            raise EndpointError(f"The server at {endpoint.url} serves {len(served)} models; name one with --llm "
                                f"({', '.join(served[:10]) or 'none listed'}).")
        model = served[0]
    elif served and model not in served:
        raise EndpointError(f"The server at {endpoint.url} does not serve {model!r}; it serves: "
                            f"{', '.join(served[:10])}.")
    return Endpoint(endpoint.url, model, max_in_flight=max_in_flight, timeout=timeout)


def wait_for_server(url: str, seconds: float = 180.0, *, alive: Callable[[], bool] = lambda: True) -> Endpoint:
    """:func:`connect` to a server that is starting, trying once a second for up to ``seconds`` while
    ``alive()`` (e.g. its process has not exited).

    Raises:
        EndpointError: the last attempt's sentence, when the server never answered.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return connect(url)
        except EndpointError:
            if time.monotonic() > deadline or not alive():
                raise
            time.sleep(1)


def endpoint_url() -> str:
    """``WORKBOOK_LLM_ENDPOINT``, or ``""`` when generation is local."""
    return os.environ.get("WORKBOOK_LLM_ENDPOINT", "").strip()


def endpoint_from_settings() -> Endpoint | None:
    """The endpoint named by ``WORKBOOK_LLM_ENDPOINT`` (model: ``WORKBOOK_LLM_ENDPOINT_MODEL``), connected, or
    ``None`` when it is not set."""
    url = endpoint_url()
    if not url:
        return None
    return connect(url, os.environ.get("WORKBOOK_LLM_ENDPOINT_MODEL") or None,
                   max_in_flight=int(os.environ.get("WORKBOOK_LLM_IN_FLIGHT", "8")))

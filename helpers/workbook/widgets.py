"""Interactive panels for Jupyter, Colab or VS Code: thin ipywidgets front-ends over plain functions
that the tests call directly. :class:`AskPanel` shows an answer and its retrieved chunks, marking cited
ones and the one holding the answer's words; :class:`ChunkingExplorer` shows how chunking sliders cut a
document and change retrieval. Without a frontend (``make run``) a panel is just its text ``repr``, so
it never slows down or breaks a batch run.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from helpers.chunking import STRATEGIES, Chunk, ChunkingConfig, chunk_text, count_tokens
from helpers.documents import as_doc_triples
from helpers.prompts import RAG_INSTRUCTION
from helpers.rag import Answer, answer_questions, attribute_answer
from helpers.workbook.retrieval_defaults import chunking_metrics

if TYPE_CHECKING:
    import pandas as pd

    from helpers.rerank import Reranker
    from helpers.retrieval import Hit, Retriever
    from helpers.runtime.models import LLM

_PALETTE = ("#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa")

_STYLE = """<style>
.wb-answer {font-size: 1.05em; margin: 6px 0; padding: 6px 10px; border-left: 4px solid #2563eb; background: #f8fafc}
.wb-meta {color: #475569; font-size: 0.9em; margin: 2px 0 8px 0}
table.wb-sources {border-collapse: collapse; width: 100%; font-size: 0.9em}
table.wb-sources td:nth-child(2) {white-space: nowrap}
table.wb-sources td, table.wb-sources th {border-bottom: 1px solid #e2e8f0; padding: 4px 6px; text-align: left; vertical-align: top}
tr.wb-cited {background: #fef3c7}
tr.wb-attributed td:first-child {border-left: 4px solid #16a34a}
.wb-badge {display: inline-block; font-size: 0.8em; padding: 0 5px; margin-right: 3px; border-radius: 3px; color: white}
.wb-badge-cited {background: #d97706} .wb-badge-found {background: #16a34a}
.wb-chunk {display: inline; padding: 1px 0; line-height: 1.7}
.wb-chunk-id {font-size: 0.75em; font-weight: bold; color: #334155; margin: 0 2px}
.wb-error {color: #b91c1c}
</style>"""


# --------------------------------------------------------------------------- ask the knowledge base
@dataclass
class AskResult:
    """One question asked through :func:`ask`: settings, the answer and where it came from."""

    question: str
    method: str
    k: int
    rerank: bool
    answer: Answer
    attributed: list[str] = field(default_factory=list)  # ids of the chunks that hold the answer's words
    seconds: float = 0.0

    @property
    def hits(self) -> list[Hit]:
        """The retrieved chunks, best first."""
        return self.answer.hits


def ask(llm: LLM, retriever: Retriever, question: str, *, method: str | None = None, k: int = 3,
        reranker: Reranker | None = None, instruction: str | None = RAG_INSTRUCTION,
        max_new_tokens: int = 48) -> AskResult:
    """Answer one question from the knowledge base and trace where the answer came from.

    ``method``: one of ``retriever.methods`` (default: its own); ``k`` chunks go into the prompt;
    ``reranker``: ``None`` for no re-ranking; ``instruction``: default answer briefly, cite, abstain.

    Raises:
        ValueError: on an empty question, ``k < 1`` or a method the retriever cannot do.
    """
    question = (question or "").strip()
    if not question:
        raise ValueError("Type a question first.")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    view = retriever.view(method, reranker)
    t0 = time.perf_counter()
    answer = answer_questions(llm, view, [question], k=k, instruction=instruction,
                              max_new_tokens=max_new_tokens, progress=False)[0]
    return AskResult(question=question, method=view.method, k=k, rerank=reranker is not None, answer=answer,
                     attributed=[h.chunk_id for h in answer.hits
                                 if attribute_answer(answer.answer, [h], question=question)],
                     seconds=time.perf_counter() - t0)


def _mark(text: str, needle: str) -> str:
    """HTML-escape ``text`` and ``<mark>`` the first case-insensitive occurrence of ``needle``."""
    at = text.lower().find(needle.lower()) if len(needle) >= 2 else -1
    if at < 0:
        return html.escape(text)
    return (html.escape(text[:at]) + "<mark>" + html.escape(text[at:at + len(needle)]) + "</mark>"
            + html.escape(text[at + len(needle):]))


def render_answer(result: AskResult, *, snippet_chars: int = 320) -> str:
    """The HTML an :class:`AskPanel` shows: the answer, then the retrieved chunks with their scores;
    chunks of cited documents are marked ``cited``, the one holding the answer's words in green."""
    a = result.answer
    cited = set(a.citations)
    rows = []
    for rank, h in enumerate(result.hits, 1):
        badges = []
        classes = []
        if h.doc_id in cited:
            classes.append("wb-cited")
            badges.append('<span class="wb-badge wb-badge-cited">cited</span>')
        if h.chunk_id in result.attributed:
            classes.append("wb-attributed")
            badges.append('<span class="wb-badge wb-badge-found">answer found here</span>')
        text = h.text if len(h.text) <= snippet_chars else h.text[:snippet_chars] + "…"
        rows.append(f'<tr class="{" ".join(classes)}"><td>{rank}</td><td><code>{html.escape(h.chunk_id)}</code><br>'
                    f'{"".join(badges)}</td><td>{h.score:.3f}</td><td>{_mark(text, a.answer.strip())}</td></tr>')
    invented = [c for c in a.citations if c not in {h.doc_id for h in result.hits}]
    meta = [f"{result.method}, top-{result.k}{', re-ranked' if result.rerank else ''}",
            f"{a.generation.prompt_tokens} prompt tokens", f"{result.seconds:.1f} s"]
    meta.append("cites " + ", ".join(f"[{html.escape(c)}]" for c in a.citations) if a.citations else "no citation")
    if invented:
        meta.append(f'<span class="wb-error">cited but not retrieved: {html.escape(", ".join(invented))}</span>')
    meta.append("answer traced to " + ", ".join(result.attributed) if result.attributed
                else "answer not found in any retrieved chunk")
    return (f'{_STYLE}<div class="wb-answer"><b>Answer:</b> {html.escape(a.answer) or "<i>(empty)</i>"}</div>'
            f'<div class="wb-meta">{" · ".join(meta)}</div>'
            '<table class="wb-sources"><tr><th>#</th><th>chunk</th><th>score</th><th>text</th></tr>'
            + "".join(rows) + "</table>")


class AskPanel(widgets.VBox):
    """"Ask the knowledge base": question, retrieval method, top-k, re-rank toggle, answer with sources.

    >>> panel = AskPanel(llm, retriever, reranker=reranker)   # doctest: +SKIP
    >>> panel                                                  # doctest: +SKIP

    Controls: ``question``, ``method``, ``top_k``, ``rerank``, ``button``; :meth:`run` asks programmatically.
    """

    def __init__(self, llm: LLM, retriever: Retriever, *, reranker: Reranker | None = None, k: int = 3,
                 max_k: int = 10, question: str = "", instruction: str | None = RAG_INSTRUCTION,
                 max_new_tokens: int = 48) -> None:
        self._llm, self._retriever, self._reranker = llm, retriever, reranker
        self._instruction, self._max_new_tokens = instruction, max_new_tokens
        self.question = widgets.Text(value=question, placeholder="Ask a question about the documents…",
                                     description="Question", layout=widgets.Layout(width="98%"))
        self.method = widgets.Dropdown(options=retriever.methods, value=retriever.method,
                                       description="Retrieval")
        self.top_k = widgets.IntSlider(value=min(k, max_k), min=1, max=max_k, description="top-k",
                                       continuous_update=False)
        self.rerank = widgets.Checkbox(value=False, description="re-rank", disabled=reranker is None,
                                       indent=False, tooltip="needs a re-ranker" if reranker is None else "")
        self.button = widgets.Button(description="Ask", button_style="primary", icon="search")
        self.status = widgets.HTML()
        self.result_html = widgets.HTML()
        self.last: AskResult | None = None
        self.button.on_click(lambda _: self.run())
        controls = widgets.HBox([self.method, self.top_k, self.rerank, self.button])
        super().__init__([self.question, controls, self.status, self.result_html])
        self.add_class("wb-ask-panel")

    def run(self) -> AskResult | None:
        """Ask the current question with the current settings and show the result (or a clear error)."""
        self.button.disabled = True
        self.status.value = "<i>Retrieving and generating…</i>"
        try:
            self.last = ask(self._llm, self._retriever, self.question.value, method=self.method.value,
                            k=self.top_k.value, reranker=self._reranker if self.rerank.value else None,
                            instruction=self._instruction, max_new_tokens=self._max_new_tokens)
        except ValueError as err:  # bad input: say what to change
            self.status.value = f'<span class="wb-error">{html.escape(str(err))}</span>'
            return None
        finally:
            self.button.disabled = False
        self.status.value = ""
        self.result_html.value = render_answer(self.last)
        return self.last


# --------------------------------------------------------------------------- chunking explorer
def render_chunks(chunks: Sequence[Chunk], *, max_chars: int = 6000) -> str:
    """HTML of a document's chunks, one colour each; overlapping text shows up twice."""
    parts, used = [], 0
    for c in chunks:
        if used >= max_chars:
            parts.append(f"<i>… {len(chunks) - len(parts)} more chunks</i>")
            break
        colour = _PALETTE[c.position % len(_PALETTE)]
        parts.append(f'<span class="wb-chunk" style="background:{colour}"><span class="wb-chunk-id">'
                     f'{html.escape(c.chunk_id)} · {count_tokens(c.text)} tok</span>{html.escape(c.text)}</span> ')
        used += len(c.text)
    return _STYLE + '<div style="white-space: pre-wrap; max-height: 420px; overflow-y: auto">' + "".join(parts) + "</div>"


class ChunkingExplorer(widgets.VBox):
    """Sliders for chunking strategy, size and overlap showing one document's chunks and the metrics;
    every configuration's metrics stay in :attr:`history`, the first as the baseline to beat."""

    def __init__(self, docs: Mapping[str, Any], questions: Sequence[str], relevant: Sequence[Sequence[str]], *,
                 config: ChunkingConfig | None = None, doc_id: str | None = None, method: str = "bm25",
                 embedder: Any = None) -> None:
        if not docs:
            raise ValueError("The chunking explorer needs at least one document.")
        self._docs, self._questions, self._relevant = docs, list(questions), [list(r) for r in relevant]
        self._method, self._embedder = method, embedder
        config = config or ChunkingConfig()
        self.history: dict[ChunkingConfig, dict[str, float]] = {}
        self.document = widgets.Dropdown(options=sorted(docs), value=doc_id or sorted(docs)[0], description="Document")
        self.strategy = widgets.Dropdown(options=[s for s in STRATEGIES], value=config.strategy, description="Strategy")
        self.size = widgets.IntSlider(value=config.size, min=16, max=512, step=16, description="size (tok)",
                                      continuous_update=False)
        self.overlap = widgets.IntSlider(value=config.overlap, min=0, max=256, step=8, description="overlap",
                                         continuous_update=False)
        self.metrics_html = widgets.HTML()
        self.chunks_html = widgets.HTML()
        for control in (self.document, self.strategy, self.size, self.overlap):
            control.observe(lambda _change: self.refresh(), names="value")
        super().__init__([widgets.HBox([self.document, self.strategy]), widgets.HBox([self.size, self.overlap]),
                          self.metrics_html, self.chunks_html])
        self.add_class("wb-chunking-explorer")
        self.refresh()

    @property
    def config(self) -> ChunkingConfig:
        """The configuration the sliders describe (overlap only applies to ``fixed``, and stays < size)."""
        overlap = min(self.overlap.value, self.size.value - 1) if self.strategy.value == "fixed" else 0
        return ChunkingConfig(self.strategy.value, size=self.size.value, overlap=overlap)

    def refresh(self) -> None:
        """Re-chunk the shown document and (once per configuration) re-measure retrieval."""
        config = self.config
        self.overlap.disabled = config.strategy != "fixed"
        doc_id, text, title = as_doc_triples({self.document.value: self._docs[self.document.value]})[0]
        chunks = chunk_text(text, doc_id, config, title)
        self.chunks_html.value = render_chunks(chunks)
        if config not in self.history:
            self.metrics_html.value = "<i>Indexing and measuring…</i>"
            self.history[config] = chunking_metrics(self._docs, self._questions, self._relevant, config,
                                                    method=self._method, embedder=self._embedder)
        m, base = self.history[config], next(iter(self.history.values()))

        def delta(key: str) -> str:
            return f" ({m[key] - base[key]:+.2f} vs first)" if m is not base else ""

        self.metrics_html.value = (
            f"<b>{html.escape(str(config))}</b> — this document: {len(chunks)} chunks; whole corpus: {int(m['chunks'])} "
            f"chunks. {self._method} retrieval on {len(self._questions)} questions: "
            f"recall@1 <b>{m['recall@1']:.2f}</b>{delta('recall@1')}, recall@5 <b>{m['recall@5']:.2f}</b>"
            f"{delta('recall@5')}, MRR@10 <b>{m['MRR@10']:.2f}</b>{delta('MRR@10')}")

    def history_table(self) -> pd.DataFrame:
        """Every configuration tried so far with its metrics, one row each."""
        import pandas as pd

        return pd.DataFrame([{"strategy": c.strategy, "size": c.size, "overlap": c.overlap, **m}
                             for c, m in self.history.items()])


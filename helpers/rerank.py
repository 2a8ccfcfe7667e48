"""Second-stage re-ranking: a cross-encoder reads (question, chunk) together and scores relevance.

Unlike the embedder (a bi-encoder, encoding them apart), it compares them word by word, at one
forward pass per candidate, so it re-scores only the few dozen first-stage candidates
(``build_retriever(..., rerank=reranker)``). No cross-encoder ships in a PyPI package: the offline
default is trained by :mod:`helpers.workbook.rerank_training`; :func:`load_cross_encoder` loads others.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from helpers.runtime.config import hub_offline
from helpers.runtime.models import ModelNotAvailableError

HUB_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L6-v2"


@runtime_checkable
class Reranker(Protocol):
    """Anything with ``score(query, texts) -> list[float]`` (higher = more relevant)."""

    def score(self, query: str, texts: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """Wraps a ``sentence_transformers.CrossEncoder`` as a :class:`Reranker`."""

    def __init__(self, model: Any, name: str, *, batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size
        self.info: dict[str, Any] = {}

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """Relevance logits of ``texts`` for ``query``."""
        if not texts:
            return []
        scores = self.model.predict([(query, t) for t in texts], batch_size=self.batch_size,
                                    show_progress_bar=False, convert_to_numpy=True)
        return [float(s) for s in scores]

    def __repr__(self) -> str:
        return f"CrossEncoderReranker({self.name!r})"


def load_cross_encoder(name: str | Path = HUB_CROSS_ENCODER, *, label: str | None = None) -> CrossEncoderReranker:
    """A :class:`CrossEncoderReranker` from a local folder or a Hugging Face Hub id.

    Raises:
        ModelNotAvailableError: no cross-encoder in the folder or the Hub unreachable (use the offline one).
    """
    from sentence_transformers import CrossEncoder

    local = Path(name).expanduser().is_dir()
    try:
        model = CrossEncoder(str(name), device="cpu", local_files_only=local or hub_offline())
    except (OSError, ValueError) as err:
        raise ModelNotAvailableError(
            f"Could not load cross-encoder {str(name)!r} ({'HF_HUB_OFFLINE is set' if hub_offline() else 'not reachable'}). "
            "Use helpers.workbook.rerank_training.load_or_train_reranker() for the offline re-ranker trained on the "
            "workbook's data.") from err
    return CrossEncoderReranker(model, label or str(name))

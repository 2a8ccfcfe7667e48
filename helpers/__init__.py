"""llm-workbook's helpers: prompt engineering, RAG and LoRA fine-tuning, measured on your documents.

Entry points for use outside the notebooks (``docs/ARCHITECTURE.md`` maps every module; ``import
helpers`` does not import torch, the first model load does)::

    from helpers import build_retriever, build_system, evaluate_systems, load_documents, compare
    rag = build_system("rag", retriever=build_retriever(load_documents("my-folder")))
    print(rag.answer(["What is our refund policy?"])[0].answer)
"""

from helpers.adapters import load_adapter
from helpers.chunking import ChunkingConfig
from helpers.comparison import compare
from helpers.documents import Document, load_documents
from helpers.finetune import train_lora
from helpers.generation import generate
from helpers.rag import Answer
from helpers.retrieval import Hit, Retriever, build_retriever, build_retriever_from_folder
from helpers.runtime.adapter_cache import load_or_train_adapter
from helpers.runtime.config import get_settings, start_notebook
from helpers.runtime.models import load_embedder, load_llm
from helpers.runtime.persistence import load_index, save_index
from helpers.systems import System, build_system, evaluate_systems, knowledge_update
from helpers.workbook.advice import recommendations
from helpers.workbook.data import load_kb, load_kb_questions

__all__ = [
    "Answer", "ChunkingConfig", "Document", "Hit", "Retriever", "System",
    "build_retriever", "build_retriever_from_folder", "build_system", "compare", "evaluate_systems", "generate",
    "get_settings", "knowledge_update", "load_adapter", "load_documents", "load_embedder", "load_index", "load_kb",
    "load_kb_questions", "load_llm", "load_or_train_adapter", "recommendations", "save_index", "start_notebook",
    "train_lora",
]

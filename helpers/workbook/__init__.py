"""This workbook's own material, beside the teaching core: its data (``data``), the shipped reader and how it
was trained (``reader``, ``reader_training``), the re-ranker and the retrieval defaults (``rerank_training``,
``retrieval_defaults``), FAISS index comparisons (``ann``), exercises and panels (``exercises``, ``widgets``),
and running the head-to-head on your documents (``question_sets``, ``question_drafts``, ``your_data``,
``report``, ``cli``). ``docs/ARCHITECTURE.md`` maps it."""

"""Check what a caller passed before any work starts, so a mistake is one sentence naming the bad item and
what to do instead, not a traceback from inside a library."""

from __future__ import annotations

import operator
from typing import Any


def check_count(value: Any, name: str = "k") -> int:
    """``value`` as an int >= 1, else a ``TypeError``/``ValueError`` that names ``name``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be a whole number (how many results), got {type(value).__name__} "
                        f"{value!r}.") from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1 (how many results to return), got {number}.")
    return number


def check_texts(texts: Any, *, noun: str = "query", caller: str = "search_many",
                one_string_fix: str = "use search(query) or search_many([query])",
                empty_fix: str = "there is nothing to search for. Pass a question or some keywords") -> list[str]:
    """``texts`` as a list of non-blank strings, else a ``TypeError``/``ValueError`` saying which one;
    ``noun`` names the items, ``caller`` the function called, the ``*_fix`` texts what to do instead."""
    if isinstance(texts, str):
        plural = "queries" if noun == "query" else f"{noun}s"
        raise TypeError(f"{caller}() takes a list of {plural}, not one string: {one_string_fix}.")
    texts = list(texts)
    for i, text in enumerate(texts, start=1):
        where = f"The {noun}" if len(texts) == 1 else f"{noun.capitalize()} {i} of {len(texts)}"
        if not isinstance(text, str):
            raise TypeError(f"{where} is a {type(text).__name__}, not a str: pass the question's text "
                            "(e.g. question.question for a Question record).")
        if not text.strip():
            raise ValueError(f"{where} is empty ({text!r}): {empty_fix}, or drop the empty rows.")
    return texts

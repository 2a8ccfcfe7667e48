"""``llm-workbook`` (also ``python -m helpers``): the head-to-head on your own documents, from a terminal.

::

    llm-workbook compare --docs my_docs/ --questions questions.csv     # report.html, results.csv, summary.json
    llm-workbook score results/compare-20261201-120000/results.csv    # after filling in the verdict column
    llm-workbook draft-questions --docs my_docs/ --n 50                # a questions.csv to review
    llm-workbook serve --port 8000                                     # the model, for a room, over HTTP
    llm-workbook compare --endpoint http://host:8000/v1 --llm NAME ... # generate through any OpenAI-compatible server

Bad input ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers.workbook.question_sets import InputError
from helpers.workbook.your_data import DEFAULT_SYSTEMS

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-workbook",
        description="Prompt-only vs RAG vs LoRA + RAG on your own documents, with intervals and paired tests. "
                    "The model and profile come from the same settings as the notebooks (WORKBOOK_LLM, "
                    "WORKBOOK_PROFILE, ...).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compare = commands.add_parser("compare", help="answer your questions with each system and write a report",
                                  description="Answer every question with each system, score, and write "
                                              "report.html, results.csv and summary.json.")
    compare.add_argument("--docs", required=True, type=Path, help="folder of .md, .txt and .pdf files")
    compare.add_argument("--questions", required=True, type=Path,
                         help="CSV or JSONL: question (required), answer, aliases (|-separated), "
                              "source (file names, ;-separated), type")
    compare.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                         help=f"comma-separated, from prompt, rag, lora+rag, lora, facts+rag and prompt+shots, "
                              f"rag+shots, prompt+system, rag+system (default {','.join(DEFAULT_SYSTEMS)}); "
                              "lora and facts+rag first train an adapter on facts from your documents")
    compare.add_argument("--facts", type=Path, default=None,
                         help="reviewed question/answer pairs (a draft-questions CSV) for the lora and facts+rag "
                              "arms' adapter to learn (default: fill-in-the-blank pairs cut from the documents)")
    compare.add_argument("--method", default=None, help="retrieval: dense (default), bm25 or hybrid")
    compare.add_argument("--k", type=int, default=None, help="chunks given to the RAG systems (default 3)")
    compare.add_argument("--tune-on", choices=["dev"], default=None,
                         help="choose --method and --k on the rows whose split is dev, report the test rows")
    compare.add_argument("--out", type=Path, default=None,
                         help="output folder (default results/compare-<timestamp>/)")
    compare.add_argument("--endpoint", default=None,
                         help="generate through an OpenAI-compatible server at this URL (key: WORKBOOK_LLM_API_KEY)")
    compare.add_argument("--llm", default=None, help="the model name on that server (default: the one it serves)")
    compare.add_argument("--in-flight", type=int, default=8, help="requests sent to the server at once (default 8)")
    compare.add_argument("--shots", type=Path, default=None,
                         help="worked examples (CSV/JSONL: question, answer) for a few-shot arm: adds rag+shots")
    compare.add_argument("--system-prompt", type=Path, default=None,
                         help="a text file with your system prompt: adds rag+system")
    compare.add_argument("--prices", type=Path, default=None,
                         help="JSON price table for the cost per 1,000 questions: input_per_million, "
                              "output_per_million, machine_per_hour, currency")
    serve = commands.add_parser("serve", help="serve the configured model over an OpenAI-compatible API",
                                description="Start `transformers serve` on the configured model (WORKBOOK_LLM), "
                                            "so that a room's notebooks and `compare --endpoint` generate "
                                            "through one server. Needs the serving extra: pip install "
                                            "'transformers[serving]' openai.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: the whole network)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--continuous-batching", action="store_true",
                       help="let the server batch concurrent requests (transformers' paged-attention scheduler)")
    score = commands.add_parser("score", help="re-score a results.csv after a person filled in 'verdict'",
                                description="Apply the verdict column (correct/wrong) of a results.csv and "
                                            "rewrite summary.json and report.html beside it.")
    score.add_argument("results", type=Path, help="the results.csv that compare wrote")
    draft = commands.add_parser("draft-questions", help="propose questions with answers and sources to review",
                                description="Draft questions from your documents with the configured model, "
                                            "into a CSV that compare reads once a person has reviewed it.")
    draft.add_argument("--docs", required=True, type=Path, help="folder of .md, .txt and .pdf files")
    draft.add_argument("--n", type=int, default=50, help="how many passages to draft from (default 50)")
    draft.add_argument("--out", type=Path, default=Path("draft_questions.csv"), help="CSV to write")
    draft.add_argument("--endpoint", default=None,
                       help="draft with the model of an OpenAI-compatible server at this URL (a capable model "
                            "drafts far better than the 135M default)")
    draft.add_argument("--llm", default=None, help="the model name on that server (default: the one it serves)")
    draft.add_argument("--extractive", action="store_true",
                       help="no model: fill-in-the-blank pairs cut from the documents' sentences (deterministic)")
    return parser


def _endpoint(args: argparse.Namespace, max_in_flight: int = 8) -> Any:
    """The server ``--endpoint`` names, connected (``--llm``: the model there), or ``None`` without one.

    Raises:
        InputError: ``--llm`` without ``--endpoint``, or a server that cannot be used (one line).
    """
    if not (args.endpoint or args.llm):
        return None
    if not args.endpoint:
        raise InputError("--llm names a model on a server: give the server's URL with --endpoint too "
                         "(for a local model, set WORKBOOK_LLM).")
    from helpers.runtime.endpoint import EndpointError, connect

    try:
        return connect(args.endpoint, args.llm, max_in_flight=max_in_flight)
    except EndpointError as why:
        raise InputError(str(why)) from None


def _compare(args: argparse.Namespace) -> int:
    from helpers.runtime.generation_cache import cache_report
    from helpers.workbook.fact_adapter import FACT_ARMS
    from helpers.workbook.your_data import compare_on_documents, write_outputs

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for given, variant in ((args.shots, "+shots"), (args.system_prompt, "+system")):
        if given is not None and not any(s.endswith(variant) for s in systems):
            systems.append("rag" + variant)  # the arm the option asks for, beside the systems it is compared with
    if args.facts is not None and not any(s in FACT_ARMS for s in systems):
        systems.append("lora")  # --facts trains the fact adapter: compare it
    if args.endpoint:
        local = [s for s in systems if s == "lora+rag" or s in FACT_ARMS]
        if local:
            raise InputError(f"{', '.join(local)} need(s) adapter weights in this process; leave them out with "
                             "--systems prompt,rag when generating through --endpoint.")
        if args.in_flight < 1:
            raise InputError(f"--in-flight must be at least 1, not {args.in_flight}.")
    llm = _endpoint(args, max_in_flight=args.in_flight)
    method, k, split, tuning = args.method or "dense", 3 if args.k is None else args.k, None, None
    if args.tune_on:
        from helpers.workbook.tuning import tune_on_dev

        if args.method or args.k is not None:
            raise InputError("--tune-on dev chooses --method and --k on the dev rows: give neither.")
        tuned = tune_on_dev(args.docs, args.questions, llm=llm)
        method, k, split, tuning = tuned.method, tuned.k, "test", tuned.record()
        print(f"Chosen on {tuned.dev_questions} dev questions: --method {method} --k {k}; reporting the test rows.")
    run = compare_on_documents(args.docs, args.questions, systems=systems, method=method, k=k, llm=llm,
                               prices=args.prices, shots=args.shots, system_prompt=args.system_prompt,
                               split=split, tuning=tuning, facts=args.facts)
    out = args.out or Path("results") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    paths = write_outputs(run.results, run.summary, out)
    if run.facts is not None:
        run.facts.to_csv(out / "facts.csv", index=False)  # what the fact adapter learned, for a person to read
    _print_summary(run.summary)
    print(f"\nWrote {paths['report']} (open it in a browser), {paths['results'].name} and {paths['summary'].name} "
          f"in {run.summary['setup']['seconds']['total']:.0f} s.")
    print(cache_report())
    return 0


def _score(args: argparse.Namespace) -> int:
    from helpers.workbook.your_data import read_results, rescore, write_outputs

    table, previous = read_results(args.results)
    results, summary = rescore(table, previous)
    paths = write_outputs(results, summary, args.results.parent)
    _print_summary(summary)
    print(f"\nRe-scored {summary['graded']['person']} answers by a person; wrote {paths['report']}.")
    return 0


def _draft(args: argparse.Namespace) -> int:
    from helpers.runtime.config import get_settings
    from helpers.runtime.models import ModelNotAvailableError, load_llm
    from helpers.workbook.question_drafts import draft_questions, extract_facts
    from helpers.workbook.question_sets import read_documents

    if args.n < 1:
        raise InputError(f"--n must be at least 1, not {args.n}.")
    if args.extractive and (args.endpoint or args.llm):
        raise InputError("--extractive drafts without a model: give it without --endpoint and --llm.")
    if args.llm and not args.endpoint:
        _endpoint(args)  # says what is missing, before the folder is read
    docs = read_documents(args.docs)
    if args.extractive:
        table, by = extract_facts(docs, args.n, folder=args.docs), "extraction (no model)"
    else:
        try:
            llm = _endpoint(args) or load_llm()
        except ModelNotAvailableError as why:
            raise InputError(str(why)) from None
        table = draft_questions(docs, llm, args.n, folder=args.docs, seed=get_settings().seed)
        by = llm.name if args.endpoint else get_settings().llm
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    found = int((table["check"] == "answer found in the passage").sum()) if len(table) else 0
    print(f"Wrote {len(table)} draft questions to {args.out} ({found} with the answer found in their passage). "
          f"Review every one: keep, fix or delete; add unanswerable and reworded questions. Drafted by "
          f"{by}; a larger model (WORKBOOK_LLM, or --endpoint) drafts better questions.")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import importlib.util
    import os
    import subprocess

    from helpers.runtime.config import get_settings
    from helpers.runtime.models import ModelNotAvailableError, llm_folder

    missing = [m for m in ("fastapi", "uvicorn", "openai") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"llm-workbook serve needs {', '.join(missing)}: pip install 'transformers[serving]' openai.")
    try:
        folder = llm_folder()
    except ModelNotAvailableError as why:
        raise InputError(str(why)) from None
    # run from the folder's parent and name the folder: the server then calls the model by its short name
    cwd, model = (folder.parent, folder.name) if isinstance(folder, Path) else (None, folder)
    url = f"http://{'localhost' if args.host in ('127.0.0.1', '0.0.0.0') else args.host}:{args.port}/v1"
    print(f"Serving {get_settings().llm} as model {model!r} at {url} (Ctrl-C stops it).\n"
          f"  compare:   llm-workbook compare --endpoint {url} --llm {model} --systems prompt,rag ...\n"
          f"  notebooks: WORKBOOK_LLM_ENDPOINT={url} WORKBOOK_LLM_ENDPOINT_MODEL={model}", flush=True)
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(model), "--host", args.host,
               "--port", str(args.port), "--device", "cpu" if get_settings().profile.name == "cpu" else "auto"]
    if args.continuous_batching:
        command.append("--continuous-batching")
    if cwd is not None:
        os.chdir(cwd)
    if hasattr(os, "execv") and os.name == "posix":  # become the server: a stop signal reaches it, no orphan
        sys.stdout.flush()
        os.execv(sys.executable, command)
    try:
        return subprocess.run(command).returncode
    except KeyboardInterrupt:
        return 0


def _print_summary(summary: dict) -> None:
    from helpers.uncertainty import Rate
    from helpers.workbook.report import METRIC_LABELS

    for name, metrics in summary["systems"].items():
        rates = "; ".join(f"{METRIC_LABELS[m]} {Rate(v['k'], v['n'], v['low'], v['high'])}"
                          for m, v in metrics.items() if isinstance(v, dict))
        print(f"{name}: {rates or 'not scored yet'}")
    for sentence in summary.get("recommendation", []):
        print(f"- {sentence}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 done, 2 bad input)."""
    args = _parser().parse_args(argv)
    run = {"compare": _compare, "score": _score, "draft-questions": _draft, "serve": _serve}[args.command]
    formatter = warnings.formatwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        for library in ("transformers", "peft", "torch", "accelerate", "sentence_transformers"):
            warnings.filterwarnings("ignore", module=library)  # their deprecation notes are not the user's to fix
        warnings.formatwarning = lambda message, *_, **__: f"llm-workbook: warning: {message}\n"  # type: ignore[assignment]
        try:
            return run(args)
        except InputError as why:
            print(f"llm-workbook: error: {why}", file=sys.stderr)
            return EXIT_BAD_INPUT
        finally:
            warnings.formatwarning = formatter


if __name__ == "__main__":
    sys.exit(main())

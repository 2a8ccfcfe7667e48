"""Is a replayed answer the answer this machine would give? Regenerate a fixed sample of the recorded answers
(``generations/``) on other numerics and count how many come out word for word the same
(``make benchmark-replay``).

The recording was made on the reference machine (its kernels and thread count are in
``generations/MANIFEST.json``). Each variant runs in its own process, so that ``ATEN_CPU_CAPABILITY`` takes
effect before torch starts:

- ``avx2``: the AVX2 kernel family most laptops use, same thread count as the recording;
- ``1-thread``: this machine's kernels with one thread (another split of every matrix product).

The sample: batches of the default model and of the shipped reader (the two models whose weights every
clone has), drawn with a fixed seed until each has at least its share of ``--answers`` answers. Writes
``benchmarks/replay_agreement.json`` (per variant: identical answers k/n with a 95% Wilson interval,
the answers that differ, side by side); ``make readme`` quotes it next to README's replay paragraph.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "replay_agreement.json"
VARIANTS = {"avx2": ({"ATEN_CPU_CAPABILITY": "avx2"}, None), "1-thread": ({}, 1)}
SEED = 1234


def sample(entries: list[dict], models: dict[str, str], answers: int) -> list[dict]:
    """Recorded batches of each model in ``models`` (fingerprint -> name), drawn with a fixed seed until the
    model has its share of ``answers`` (proportional to its answers in the recording)."""
    by_model = {fp: [e for e in entries if e["context"]["model"] == fp] for fp in models}
    total = sum(len(e["generations"]) for batches in by_model.values() for e in batches)
    chosen = []
    for batches in by_model.values():
        share = answers * sum(len(e["generations"]) for e in batches) / total
        order = sorted(batches, key=lambda e: e["key"])
        random.Random(SEED).shuffle(order)
        taken = 0
        for entry in order:
            if taken >= share:
                break
            chosen.append(entry)
            taken += len(entry["generations"])
    return chosen


def regenerate(answers: int) -> dict:
    """In this process (numerics as set by the parent): generate the sample again; one row per answer."""
    from helpers.generation import generate_stored
    from helpers.runtime.generation_cache import model_fingerprint, numerics, recorded_entries
    from helpers.runtime.models import load_llm
    from helpers.workbook.reader import load_reader

    base = load_llm()
    reader = load_reader(load_llm())
    models = {model_fingerprint(base): ("base", base), model_fingerprint(reader): ("reader", reader)}
    chosen = sample(recorded_entries(), {fp: name for fp, (name, _) in models.items()}, answers)
    rows, start = [], time.perf_counter()
    for i, entry in enumerate(chosen, 1):
        name, llm = models[entry["context"]["model"]]
        recorded = entry["generations"]
        again = generate_stored(llm, [g["prompt"] for g in recorded], entry["context"]["decoding"])
        rows += [{"model": name, "key": entry["key"], "recorded": g["text"], "here": a.text,
                  "same": g["text"] == a.text} for g, a in zip(recorded, again)]
        print(f"  batch {i}/{len(chosen)} ({name}): {sum(r['same'] for r in rows)}/{len(rows)} identical so far, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return {"numerics": numerics(), "seconds": round(time.perf_counter() - start, 1), "rows": rows}


def summarize(variant: str, run: dict, reference: dict | None) -> dict:
    from helpers.uncertainty import rate

    rows = run["rows"]
    overall = rate([r["same"] for r in rows])
    per_model = {m: rate([r["same"] for r in rows if r["model"] == m]) for m in sorted({r["model"] for r in rows})}
    return {"variant": variant, "numerics": run["numerics"], "recorded_on": reference, "seconds": run["seconds"],
            "identical": {"k": overall.k, "n": overall.n, "low": overall.low, "high": overall.high},
            "per_model": {m: {"k": r.k, "n": r.n, "low": r.low, "high": r.high} for m, r in per_model.items()},
            "differences": [r for r in rows if not r["same"]]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=200, help="answers in the sample (default 200)")
    parser.add_argument("--variant", choices=sorted(VARIANTS), nargs="*", default=sorted(VARIANTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # inside the variant's process: generate and hand the rows back as JSON
        Path(args.child).write_text(json.dumps(regenerate(args.answers)), encoding="utf-8")
        return 0
    from helpers.runtime.generation_cache import recorded_numerics

    results = json.loads(OUT.read_text(encoding="utf-8")) if OUT.is_file() else {}
    for variant in args.variant:
        env_extra, threads = VARIANTS[variant]
        env = {**os.environ, **env_extra, "WORKBOOK_GENERATION_CACHE": "0", "HF_HUB_OFFLINE": "1"}
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        out = ROOT / "results" / "benchmarks" / f"replay_agreement_{variant}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"{variant}: regenerating about {args.answers} recorded answers", flush=True)
        subprocess.run([sys.executable, __file__, "--answers", str(args.answers), "--child", str(out)], env=env,
                       check=True)
        result = summarize(variant, json.loads(out.read_text(encoding="utf-8")), recorded_numerics())
        ident = result["identical"]
        print(f"{variant}: {ident['k']}/{ident['n']} identical (95% CI {ident['low']:.1%}-{ident['high']:.1%}), "
              f"on {result['numerics']['cpu_kernels']} kernels, {result['numerics']['threads']} threads", flush=True)
        results[variant] = result
    OUT.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

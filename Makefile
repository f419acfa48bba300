# TwinFlow platform. `make help` lists the targets.
SHELL := /bin/bash
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL ?=
BENCH ?= digits
NFE ?= 1,2,4
RUN ?= runs/demo
BENCHMARKS ?= $(or $(TWINFLOW_BENCHMARKS),../shared/benchmarks)
# What the GPU machines' image lacks for benchmarks/cuda_check.sh (pure-Python wheels).
GPU_KIT := diffusers|jsonargparse|docstring[-_]parser|typeshed[-_]client|importlib[-_]metadata

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-slow lint toy tiny compare eval fetch-benchmarks mlflow-ui report dashboard-check bench bench-quick gpu-kit clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	# The CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
	# --no-compile: pip would compile file by file; one parallel compileall below is faster.
	$(PY) -m pip install -q --no-compile torch==2.13.0
	$(PY) -m pip install -q --no-compile -e ".[dev]"
	# One compile pass after install (47 s on 2 cores): where PYTHONDONTWRITEBYTECODE is set
	# (as on our development machines) every process would otherwise recompile lightning,
	# diffusers and transformers on import (about 12 s more per process).
	$(PY) -m compileall -q -j 0 $$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") >/dev/null || true
	# The digit judges (15-70 s on 2 cores, cached per machine) now rather than in the first demo.
	$(VENV)/bin/twinflow judges
	touch $(STAMP)

setup: $(STAMP) ## Create .venv, install the project with pinned dependencies, train the digit judges (idempotent)

demo: setup ## The main job: flow matching, then TwinFlow fine-tuning on MNIST-5k digits; scores 1/2/4 NFE
	$(VENV)/bin/twinflow demo --run-dir $(RUN)

test: setup ## The test suite CI runs (fast, CPU)
	$(VENV)/bin/pytest -q

test-slow: setup ## The long tests (minutes)
	$(VENV)/bin/pytest -q -m slow

lint: setup ## ruff
	$(VENV)/bin/ruff check src evaluation tests benchmarks

toy: setup ## The 2-D Gaussian-mixture toy (plots in runs/toy_gmm/plots)
	$(VENV)/bin/lightning fit --config experiments/toy_gmm.yaml

TINY_EXP ?= sana_600m
tiny: setup ## A diffusers backbone at toy size on CPU: make tiny [TINY_EXP=sana_600m|sana_1600m|qwen_lora|qwen_full]
	test -f $${TWINFLOW_TINY:-runs/tiny}/images/00000.txt || $(VENV)/bin/twinflow tiny-assets --out $${TWINFLOW_TINY:-runs/tiny}
	$(VENV)/bin/twinflow prepare --config experiments/tiny/$(TINY_EXP).yaml
	$(VENV)/bin/lightning fit --config experiments/tiny/$(TINY_EXP).yaml

compare: setup ## Same budget, same pretrained model: RCGM and flow matching (needs `make demo` first)
	$(VENV)/bin/twinflow demo --run-dir $(RUN) --pretrained $(RUN)/pretrain/export --objective rcgm
	$(VENV)/bin/twinflow demo --run-dir $(RUN) --pretrained $(RUN)/pretrain/export --objective flow_matching

eval: setup ## Benchmarks for a model: make eval MODEL=<ckpt or export dir> [BENCH=digits,geneval,dpg,wise,diversity] [NFE=1,2,4]
	@test -n "$(MODEL)" || { echo "error: give MODEL=<checkpoint .ckpt or export folder>"; exit 2; }
	$(PY) -m evaluation.run --model $(MODEL) --bench $(BENCH) --nfe $(NFE) $(if $(OUT),--out $(OUT)) $(EVAL_ARGS)

fetch-benchmarks: setup ## Download the benchmark prompt files at pinned commits (needs internet)
	$(PY) -m evaluation.fetch --dest $(BENCHMARKS)

STORE ?= $(or $(MLFLOW_TRACKING_URI),sqlite:///$(CURDIR)/runs/mlflow.db)
mlflow-ui: setup ## MLflow dashboard of the project's store (every fit, demo phase, ablation, eval)
	$(PY) -c "from twinflow.tracking.store import open_store; open_store('$(STORE)')"
	$(VENV)/bin/mlflow ui --backend-store-uri $(STORE) --port $(or $(PORT),5000)

report: setup ## FD per NFE and over training for the runs of one experiment (runs/report/report.html)
	$(VENV)/bin/twinflow report $(if $(EXPERIMENT),--experiment $(EXPERIMENT))

dashboard-check: setup ## The MLflow dashboard checked in headless Chromium (runs, params, tags, curves, grids); PNGs in runs/dashboard
	$(VENV)/bin/twinflow dashboard-check --store $(STORE) --out $(or $(SHOTS),runs/dashboard) $(if $(EXPERIMENT),--experiment $(EXPERIMENT))

BENCH_OUT ?= runs/bench
bench: setup ## Step cost, sampling cost, quality vs NFE + lambda sweep into runs/bench (<= 45 min; QUICK=1: <= 5)
	$(PY) benchmarks/bench_all.py --out $(BENCH_OUT) $(if $(QUICK),--quick) $(BENCH_ARGS)

bench-quick: ## make bench QUICK=1: every benchmark at smoke size
	$(MAKE) bench QUICK=1

gpu-kit: setup ## Wheels a GPU machine lacks into .whl/ (git-ignored) for benchmarks/cuda_check.sh (needs the package index)
	rm -rf .whl && mkdir -p .whl
	$(PY) -m pip freeze | grep -iE '^($(GPU_KIT))==' > .whl/requirements.txt
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
	  --implementation cp --platform manylinux2014_x86_64 -d .whl -r .whl/requirements.txt
	@ls .whl

clean: ## Remove run outputs (keeps .venv)
	rm -rf runs

# Two commands on a fresh clone (each sets itself up):
#   make zero   - R1-Zero stage on the default model (CPU, offline after the first set-up)
#   make test   - the test suite, then test-compat
#   make test-compat - the speed layer's upstream-compatibility tests under the oldest tested transformers
#   make pipeline - R1-Zero -> rejection sampling -> SFT -> held-out table (configs/smollm2-135m/pipeline.yaml)
#   make style    - format and fix the code with ruff; make quality - fail on what style would change (make test runs it)
# The virtual environment takes the on-disk CPU wheel of torch first, so no CUDA build is pulled.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup zero pipeline test test-compat quality style bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/r1lite fetch-model
	touch $@

# One process, launch options named so accelerate does not warn that it guessed them (the recipe sets the dtype).
LAUNCH := $(BIN)/accelerate launch --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no

zero: setup
	$(LAUNCH) recipes/zero.py $(ARGS)

pipeline: setup
	$(LAUNCH) recipes/pipeline.py $(ARGS)

test: setup quality
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q --durations=20 $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-compat

# pyproject.toml pins transformers>=5.17,<5.25: the default install resolves 5.24.0 (.venv), the gpu extra 5.17.0
# (vLLM 0.31 requires transformers<5.18). test-compat runs the tests of the private transformers and TRL parts
# r1lite relies on (r1lite/speedups/transformers_contract.py, trl_contract.py) under 5.17.0, installed beside
# .venv without its dependencies and put first on PYTHONPATH. 5.17.0 requires huggingface_hub<2 (.venv has 2.x,
# which uses httpx2, not httpx): the hub, httpx and httpcore below are what pip resolves for the gpu extra.
COMPAT_VENV ?= .venv-tf517
COMPAT_TRANSFORMERS ?= 5.17.0
COMPAT_PACKAGES ?= transformers==$(COMPAT_TRANSFORMERS) huggingface_hub==1.33.0 httpx==0.28.1 httpcore==1.0.9
# Files that do not exist (yet) are left out.
COMPAT_TESTS := $(wildcard tests/test_transformers_contract.py tests/test_trl_contract.py tests/test_packed_pass.py \
	tests/test_decode_cache.py tests/test_equal_to_trl.py)

test-compat: setup $(COMPAT_VENV)/.installed
	PYTHONPATH=$(COMPAT_VENV)$${PYTHONPATH:+:$$PYTHONPATH} HF_HUB_OFFLINE=1 $(BIN)/python -c 'import sys, transformers; \
	print("test-compat: transformers", transformers.__version__, "from", transformers.__file__); \
	sys.exit(transformers.__version__ != "$(COMPAT_TRANSFORMERS)")'
	PYTHONPATH=$(COMPAT_VENV)$${PYTHONPATH:+:$$PYTHONPATH} HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q \
	$(COMPAT_TESTS) $(COMPAT_ARGS)

$(COMPAT_VENV)/.installed: Makefile
	rm -rf $(COMPAT_VENV)
	$(BIN)/python -m pip install --quiet --no-deps --target $(COMPAT_VENV) $(COMPAT_PACKAGES)
	touch $@

# ruff's settings (line length 119, isort, the reasons for deferred imports) are in pyproject.toml.
quality: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

style: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python bench/bench_rewards.py

clean:
	rm -rf $(VENV) $(COMPAT_VENV) runs

# Two commands on a fresh clone (each sets itself up):
#   make zero   - R1-Zero stage on the default model (CPU, offline after the first set-up)
#   make test   - the test suite
#   make pipeline - R1-Zero -> rejection sampling -> SFT -> held-out table (configs/smollm2-135m/pipeline.yaml)
# The virtual environment takes the on-disk CPU wheel of torch first, so no CUDA build is pulled.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup zero pipeline test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/r1lite fetch-model
	touch $@

zero: setup
	$(BIN)/accelerate launch recipes/zero.py $(ARGS)

pipeline: setup
	$(BIN)/accelerate launch recipes/pipeline.py $(ARGS)

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/bench_rewards.py

clean:
	rm -rf $(VENV) runs

# The README's two commands: `make test` and `make run`. Both create .venv on first use and
# install sandbox with its dev extras (llama-cpp-python compiles: ~5 minutes the first time,
# then pip's wheel cache makes it quick).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
JOBS   := $(shell nproc 2>/dev/null || echo 2)

.PHONY: test run install bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "sandbox needs Python 3.10 or newer"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing sandbox and its dependencies (llama-cpp-python compiles on first install, ~5 min)..."
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m pip install --progress-bar off -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

run: $(STAMP)
	$(VENV)/bin/sandbox

bench: $(STAMP)
	$(VENV)/bin/sandbox bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

# The README's two commands: `make test` and `make run`. Both create .venv on first use and
# install sandbox with its dev extras (llama-cpp-python compiles: ~5 minutes the first time,
# then pip's wheel cache makes it quick).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
JOBS   := $(shell nproc 2>/dev/null || echo 2)

.PHONY: test run install bench clean bytecode

install: $(STAMP)

# Compiled bytecode for sandbox's own modules, refreshed for files that changed (~0.1 s). pip writes
# it for installed wheels but not for this editable install, and Python never writes it when
# PYTHONDONTWRITEBYTECODE is set: then every start compiles its modules again (~75 for `sandbox run`), ~0.3 s of
# `sandbox run` and ~25 ms of the TUI's first frame on a 2-core machine.
bytecode: $(STAMP)
	@$(PY) -m compileall -q sandbox

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "sandbox needs Python 3.10 or newer"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing sandbox and its dependencies (llama-cpp-python compiles on first install, ~5 min)..."
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m pip install --progress-bar off -e '.[dev]'
	touch $(STAMP)

test: bytecode
	$(PY) -m pytest -q

run: bytecode
	$(VENV)/bin/sandbox

bench: bytecode
	$(VENV)/bin/sandbox bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

# Set-up and developer commands for Enlace. On a fresh machine with Python 3.11
# or newer and access to PyPI, `make demo` and `make test` are all it takes.

# Interpreter that creates the virtual environment. It must be Python 3.11+.
PYTHON ?= python3

VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install. pip runs again when pyproject.toml is newer.
INSTALL_STAMP := $(VENV)/.installed

# Extra arguments for pytest, for example: make test PYTEST_ARGS='-k catalogs -x'
PYTEST_ARGS ?=

.PHONY: venv demo test bench catalogs

venv: $(INSTALL_STAMP)

$(INSTALL_STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
		$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
			echo "error: Enlace needs Python 3.11 or newer, but '$(PYTHON)' is missing or older." >&2; \
			echo "Install Python 3.11+ and run: make PYTHON=python3.11 $(MAKECMDGOALS)" >&2; \
			exit 1; }; \
		echo "$(PYTHON) -m venv $(VENV)"; \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install -e '.[test]'
	touch $(INSTALL_STAMP)

demo: venv
	$(BIN)/enlace demo

test: venv
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	@set -e; found=0; \
	for script in benchmarks/*.py; do \
		[ -f "$$script" ] || continue; \
		found=1; \
		echo "== $$script"; \
		$(BIN)/python "$$script"; \
	done; \
	[ "$$found" = 1 ] || echo "no benchmark scripts in benchmarks/"

catalogs: venv
	$(BIN)/python -m i18n.extract

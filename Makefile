# Wattlane — the two commands are `make run` and `make test`; both set up what is missing first.
#
# One virtualenv (.venv) holds every project of the monorepo in editable mode, with every
# third-party version pinned in constraints.txt.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROJECTS := $(patsubst %/pyproject.toml,%,$(wildcard */pyproject.toml))
STAMP := $(VENV)/.installed
PROTO_FILES := $(shell find proto/wattlane -name '*.proto' 2>/dev/null | sort)
PYTEST_ARGS ?=
# Node test clients (e.g. svc-csms/tests/npm: ocpp-rpc) are installed from their lock files.
NPM_LOCKS := $(wildcard */tests/npm/package-lock.json)
NPM_STAMPS := $(NPM_LOCKS:package-lock.json=node_modules/.installed)
# checkov (tests/charts) lives in a virtualenv of its own: its pins clash with constraints.txt.
CHECKOV_STAMP := $(VENV)/checkov/.installed

.PHONY: run test lint import-contracts proto proto-check install lock lock-check bench clean help

help:
	@echo "make run    - install what is missing, then start the local platform (wattlane up)"
	@echo "make test   - install what is missing, then run every test"
	@echo "make lint   - ruff + mypy + import contracts"
	@echo "make proto  - regenerate gRPC code from proto/ (proto-check: fail when stale)"
	@echo "make bench  - run the benchmarks under bench/"

install: $(STAMP) $(NPM_STAMPS) $(CHECKOV_STAMP)

$(STAMP): constraints.txt requirements.txt $(addsuffix /pyproject.toml,$(PROJECTS))
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt pip hatchling 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation -c constraints.txt \
		-r requirements.txt $(addprefix -e ./,$(PROJECTS)) 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(BIN)/python -m pip check
	@touch $@

%/node_modules/.installed: %/package-lock.json %/package.json
	npm ci --prefix $* --no-audit --no-fund --loglevel=error
	@touch $@

$(CHECKOV_STAMP): tools/checkov-requirements.txt
	@test -x $(VENV)/checkov/bin/python || $(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install -q --disable-pip-version-check -r tools/checkov-requirements.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(VENV)/checkov/bin/python -m pip check
	@touch $@

run: $(STAMP)
	$(BIN)/wattlane up

test: $(STAMP) $(NPM_STAMPS) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) import-contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Who may import whom, for source and tests (contracts in pyproject.toml).
import-contracts: $(STAMP)
	$(BIN)/python tools/tests_as_packages.py .lint
	PYTHONPATH=.lint $(BIN)/lint-imports --no-cache

proto: $(STAMP)
	$(BIN)/python proto/generate.py proto/src

proto-check: $(STAMP)
	$(BIN)/python proto/generate.py --check proto/src

bench: $(STAMP)
	$(BIN)/python -m bench

# Fail when the virtualenv holds a package the lock does not pin (a dependency added without `make lock`).
lock-check: $(STAMP)
	@$(BIN)/python -m pip freeze --exclude-editable 2>/dev/null | sort > $(VENV)/.freeze
	@grep -v '^#' constraints.txt | sort | comm -23 $(VENV)/.freeze - > $(VENV)/.unpinned || true
	@if [ -s $(VENV)/.unpinned ]; then echo "not pinned in constraints.txt:"; cat $(VENV)/.unpinned; exit 1; fi
	@echo "every installed package is pinned"

# Re-resolve the lock from requirements.txt and the projects' dependencies.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q hatchling
	.lock-venv/bin/pip install -q --no-build-isolation -r requirements.txt $(addprefix -e ./,$(PROJECTS))
	( echo "# The one lock file: every third-party package the virtualenv may hold, pinned."; \
	  echo "# Regenerate with \`make lock\` after changing requirements.txt or a pyproject.toml."; \
	  .lock-venv/bin/pip freeze --all --exclude-editable | grep -v '^setuptools==' ) > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

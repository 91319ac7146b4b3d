# The two commands of the contract: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test test-full lint bench token revoke clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## Serve the whole service (API, queues, schedules, tables) on http://127.0.0.1:$${PORT:-8000}
run: $(STAMP)
	exec $(PY) -m local

## Lint, type-check and run every test (unit, integration, race, e2e)
test: $(STAMP) lint
	$(PY) -m pytest

## The same with the fault, duplicate and hostile-input suites at full size (every fault kind at every
## AWS call; 1,000 generated requests an endpoint). Takes a while.
test-full: $(STAMP) lint
	KKREG_FULL=1 $(PY) -m pytest tests/fault tests/hostile

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m bandit -r app.py chalicelib local tools -q

## Issue a staff token: make token ROLE=counter|org|admin LABEL="Counter 3" [STAGE=dev]
token: $(STAMP)
	@$(PY) -m tools.token issue --role "$(ROLE)" --label "$(LABEL)"

## Revoke one: make revoke TOKEN_ID=t_... [STAGE=dev]
revoke: $(STAMP)
	@$(PY) -m tools.token revoke --token-id "$(TOKEN_ID)"

## Benchmark figures (printed and written to bench/results/latest.json)
bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

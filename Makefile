# The two commands of the contract: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint bench token revoke clean

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

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

## Issue a staff token: make token ROLE=counter|org|admin LABEL="Counter 3" [STAGE=dev]
token: $(STAMP)
	@$(PY) -m tools.token issue --role "$(ROLE)" --label "$(LABEL)"

## Revoke one: make revoke TOKEN_ID=t_... [STAGE=dev]
revoke: $(STAMP)
	@$(PY) -m tools.token revoke --token-id "$(TOKEN_ID)"

## Benchmark: the full campaign over HTTP, then the ratios (bench/results/latest.json and campaign.png).
## make bench SIZE=small for 5,000 attempts; BENCH_ATTEMPTS=N for any size; BENCH_RATIOS=0 skips the ratios.
bench: $(STAMP)
	$(if $(SIZE),BENCH_SIZE="$(SIZE)") $(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

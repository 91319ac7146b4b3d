# The two commands of the contract: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# The IaC checkers live in their own venv: checkov pins versions the service must not be held to.
IAC_VENV := .venv-iac
IAC_STAMP := $(IAC_VENV)/.installed-$(shell cat requirements-iac.txt | cksum | cut -d' ' -f1)
# Schemathesis too: its own venv, as a client generated from the OpenAPI document would be.
ST_VENV := .venv-schemathesis
ST_STAMP := $(ST_VENV)/.installed-$(shell cat requirements-schemathesis.txt | cksum | cut -d' ' -f1)
STAGE ?= dev
# The stage's region (infra/stages.json) unless REGION names another and OVERRIDE_REGION=1 says it is meant.
REGION_ARGS = $(if $(REGION),--region "$(REGION)") $(if $(OVERRIDE_REGION),--override-region)

.PHONY: run test test-full lint iac api-fuzz browser-deps bench capacity token revoke deploy destroy package clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

$(IAC_STAMP): requirements-iac.txt
	test -x $(IAC_VENV)/bin/python || $(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-iac.txt
	rm -f $(IAC_VENV)/.installed-*
	touch $(IAC_STAMP)

$(ST_STAMP): requirements-schemathesis.txt
	test -x $(ST_VENV)/bin/python || $(PYTHON) -m venv $(ST_VENV)
	$(ST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-schemathesis.txt
	rm -f $(ST_VENV)/.installed-*
	touch $(ST_STAMP)

## Serve the whole service (API, queues, schedules, tables) on http://127.0.0.1:$${PORT:-8000}
run: $(STAMP)
	exec $(PY) -m local

## Lint, type-check, check the templates, run every test (unit, integration, race, e2e, browser) and Schemathesis;
## the race suite once more on plain moto (the engine without its speed-ups, docs/testing.md)
test: $(STAMP) lint iac browser-deps
	$(PY) -m pytest
	LOCAL_ENGINE_SPEEDUPS=off $(PY) -m pytest tests/race
	$(MAKE) api-fuzz

## Schemathesis 4, every check on every operation, against a local stack it starts on a free port
## with an admin token (schemathesis.toml; API_FUZZ_EXAMPLES=60 cases an operation)
api-fuzz: $(STAMP) $(ST_STAMP)
	$(PY) -m tools.api_fuzz

## The same with the fault, duplicate and hostile-input suites at full size (every fault kind at every
## AWS call; 1,000 generated requests an endpoint; 20,000 over-limit attempts at the gate). Takes a while.
test-full: $(STAMP) lint
	KKREG_FULL=1 $(PY) -m pytest tests/fault tests/hostile tests/integration/test_gate.py
	API_FUZZ_SEED=random $(MAKE) api-fuzz

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m bandit -r app.py chalicelib local tools -q

## cfn-lint and checkov on the infra template and on both stages' packaged templates
iac: $(STAMP) $(IAC_STAMP)
	$(PY) -m tools.deploy package --stage dev > /dev/null
	$(PY) -m tools.deploy package --stage prod > /dev/null
	$(IAC_VENV)/bin/cfn-lint infra/template.yaml out/dev/sam.json out/prod/sam.json
	$(IAC_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f infra/template.yaml -f out/dev/sam.json -f out/prod/sam.json

## Deploy to AWS: infra stack, then `chalice deploy`, then what Chalice cannot set (README)
deploy: $(STAMP)
	$(PY) -m tools.deploy deploy --stage "$(STAGE)" $(REGION_ARGS)

## Remove a stage from AWS (prod asks for CONFIRM=prod)
destroy: $(STAMP)
	$(PY) -m tools.deploy destroy --stage "$(STAGE)" $(REGION_ARGS)

## One CloudFormation/SAM template of the whole stage in out/$(STAGE)/ (`chalice package --merge-template`)
package: $(STAMP)
	$(PY) -m tools.deploy package --stage "$(STAGE)" $(REGION_ARGS)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BROWSER_PACKAGES := chromium chromium-driver fonts-thai-tlwg zbar-tools  # zbarimg reads the QR codes back

## Debian's headless Chromium, its driver and the Thai fonts for the browser tests (only when missing)
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/zbarimg ] || ! dpkg -s fonts-thai-tlwg >/dev/null 2>&1; then \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES); \
	fi

## Issue a staff token: make token ROLE=counter|org|site|admin LABEL="Counter 3" [DAYS=30] [STAGE=dev]
DAYS ?= 30
token: $(STAMP)
	@$(PY) -m tools.token issue --role "$(ROLE)" --label "$(LABEL)" --days "$(DAYS)"

## Revoke one: make revoke TOKEN_ID=t_... [STAGE=dev]
revoke: $(STAMP)
	@$(PY) -m tools.token revoke --token-id "$(TOKEN_ID)"

## Benchmark: the full campaign over HTTP, then the ratios (bench/results/latest.json and campaign.png).
## make bench SIZE=small for 5,000 attempts; BENCH_ATTEMPTS=N for any size; BENCH_RATIOS=0 skips the ratios;
## BENCH_WAITING_ROOM=off sends every attempt at once (v1.1) instead of through the waiting room.
bench: $(STAMP)
	$(if $(SIZE),BENCH_SIZE="$(SIZE)") $(PY) -m bench

## docs/capacity.md's key table and ceiling, from bench/results/latest.json (after a full-size make bench)
capacity: $(STAMP)
	$(PY) -m bench.keys docs/capacity.md

clean:
	rm -rf $(VENV) $(IAC_VENV) $(ST_VENV) out .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

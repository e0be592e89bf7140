# The two commands every user meets: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench mutate fmt install clean

$(STAMP): requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(BIN)/python manage.py runstack

# Coverage of lines and branches, worker and `runstack` subprocesses included
# ([tool.coverage] in pyproject.toml), written to var/coverage.json. A full run (no
# PYTEST_ARGS) fails under either budget; `make test COV_ARGS=` runs without measuring.
COV_LINES ?= 95
COV_BRANCHES ?= 92
COV_ARGS ?= --cov --cov-report=json:var/coverage.json --cov-report=term:skip-covered

test: $(STAMP)
	$(BIN)/python -m pytest $(COV_ARGS) $(PYTEST_ARGS)
	$(if $(PYTEST_ARGS)$(if $(COV_ARGS),,off),,$(BIN)/python .ci/coverage_gate.py var/coverage.json --lines $(COV_LINES) --branches $(COV_BRANCHES))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	git ls-files -z -- '*.py' | xargs -0 $(BIN)/django-upgrade --target-version 5.2 --check
	git ls-files -z -- 'templates/*.html' | xargs -0 $(BIN)/djade --target-version 5.2 --check
	DJANGO_DEBUG=true $(BIN)/mypy dfyportal orders sandbox bench tests
	@# The import contracts of docs/architecture.md ([tool.importlinter] in pyproject.toml).
	$(BIN)/lint-imports --no-cache
	@# Code left out of coverage says why, on the same line.
	! git grep -nE 'pragma: no cover *$$' -- '*.py'
	DJANGO_DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	git ls-files -z -- 'templates/*.html' | xargs -0 $(BIN)/djade --target-version 5.2

# Performance figures against the budgets of docs/performance.md, into var/bench.json: on
# PostgreSQL + Redis when both answer (DATABASE_URL / REDIS_URL, else 127.0.0.1's default
# ports), then on the embedded default. `make bench ARGS=history` runs one module,
# ARGS=--backend=sqlite one backend, ARGS=--smoke everything at a tiny size (bench/__main__.py).
bench: $(STAMP)
	DJANGO_DEBUG=true DJANGO_LOG_LEVEL=WARNING DFY_INSTANTLY_LOG_LEVEL=WARNING $(BIN)/python -m bench $(ARGS)

# Mutation testing of the money path (minutes, not part of CI): var/mutation.json, and the
# survivors on screen. `make mutate ARGS=orders/rules.py` runs one module; docs/testing.md.
mutate: $(STAMP)
	$(BIN)/python -m bench.mutation $(ARGS)

clean:
	rm -rf $(VENV) var

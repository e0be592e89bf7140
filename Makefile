# The two commands every user meets: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fmt install clean

$(STAMP): requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(BIN)/python manage.py runstack

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	git ls-files -z -- '*.py' | xargs -0 $(BIN)/django-upgrade --target-version 5.2 --check
	git ls-files -z -- 'templates/*.html' | xargs -0 $(BIN)/djade --target-version 5.2 --check
	DJANGO_DEBUG=true $(BIN)/mypy dfyportal orders sandbox
	DJANGO_DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	git ls-files -z -- 'templates/*.html' | xargs -0 $(BIN)/djade --target-version 5.2

bench: $(STAMP)
	DJANGO_DEBUG=true DJANGO_LOG_LEVEL=WARNING $(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) var

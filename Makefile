# Convenience targets; each is one command you can also type by hand.
PY ?= python

.PHONY: install test test-all lint format typecheck ci bench bench-abuse bench-loop pretrained pretrained-classifier pretrained-perceptual pretrained-gan pretrained-vae docs-screens

install:            ## CPU torch first (never a multi-GB CUDA build by accident), then the project and its tools
	pip install torch==2.13.0 && pip install -e '.[test,dev]'

test:               ## fast suite: tiny synthetic data and tiny models, on two processes
	$(PY) -m pytest -q

test-all:           ## the whole suite, as CI runs it: + heavy, integration, real data, browser (PostgreSQL: .ci/start_postgres.sh)
	$(PY) -m pytest -m "slow or not slow" -q

lint:               ## style and the import contracts, as CI checks them
	ruff check .
	ruff format --check .
	lint-imports

format:             ## fix what ruff can fix by itself
	ruff check --fix .
	ruff format .

typecheck:          ## mypy on the packages; fails if the error count rises above .ci/mypy-baseline
	$(PY) .ci/typecheck.py

ci:                 ## exactly what CI does on a fresh machine
	bash .ci/run

bench:              ## speed benchmarks, one JSON line each
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/sample_latency.py
	$(PY) benchmarks/db_throughput.py
	$(PY) benchmarks/ui_latency.py
	$(PY) benchmarks/ui_load.py

bench-abuse:        ## a stranger's worst: hostile requests, queue, explorer and session floods, idle connections, bursts' memory, disk per image (~25 min)
	$(PY) benchmarks/abuse.py
	$(PY) benchmarks/queue_flood.py --no-address-limits
	$(PY) benchmarks/queue_flood.py
	$(PY) benchmarks/move_flood.py --moves-max-each 1000000
	$(PY) benchmarks/move_flood.py
	$(PY) benchmarks/idle_connections.py
	$(PY) benchmarks/idle_connections.py --trickle
	$(PY) benchmarks/idle_connections.py --slow-body --addresses 10
	$(PY) benchmarks/session_flood.py --calls 9000 --every 1500
	$(PY) benchmarks/burst_memory.py --bursts 6
	$(PY) benchmarks/disk_per_sample.py

bench-loop:         ## the headline: simulated raters → fine-tune → measured effect (GAN + VAE × 3 class sets, the 12 named tastes; and the folder taste: ~20 min)
	$(PY) benchmarks/feedback_loop.py --docs

pretrained:         ## retrain the shipped models with the commands in their cards; `make -j2 pretrained` runs GAN and VAE side by side (one core each; the VAE's second stage takes two)
pretrained: pretrained-gan pretrained-vae

pretrained-classifier:  ## the judge first: evaluation and the simulated raters read its features
	aigc train classifier --epochs 4 --name fashion-classifier --out runs/classifier --save aigc/pretrained/fashion-classifier.safetensors --threads 2 --seed 0

pretrained-perceptual:  ## the network the VAE's and the GAN's perceptual terms read (never the judge); fine-tunes read the shipped copy
	aigc train classifier --epochs 3 --width 8 --name fashion-perceptual --out runs/perceptual --save runs/perceptual/fashion-perceptual.safetensors --threads 2 --seed 1 --quiet
	cp runs/perceptual/fashion-perceptual.safetensors runs/perceptual/fashion-perceptual.md aigc/pretrained/

pretrained-gan: pretrained-classifier pretrained-perceptual
	aigc train gan --epochs 40 --ema 0.999 --set g_extra_convs=1 --name fashion-gan --out runs/gan --save aigc/pretrained/fashion-gan.safetensors --threads 1 --seed 0 --sample-every 2340 --checkpoint-every 936
	aigc train gan --init aigc/pretrained/fashion-gan.safetensors --steps 1750 --lr 2e-4 --ema 0.999 --perceptual runs/perceptual/fashion-perceptual.safetensors --perceptual-weight 2 --class-weights 1=0.9,2=1.05,3=0.9,4=0.95,5=1.25,6=1.5,8=0.9,9=0.9 --name fashion-gan --out runs/gan-stage2 --save aigc/pretrained/fashion-gan.safetensors --threads 2 --seed 1 --sample-every 500 --checkpoint-every 500 --quiet
	aigc filter fashion-gan --keep 0.75 --class-keep 6=0.9 --threads 2 --shipped
	aigc evaluate fashion-gan --n 10000 --update-card --shipped

pretrained-vae: pretrained-classifier pretrained-perceptual
	aigc train vae --epochs 25 --latent-dim 32 --width 48 --set kl_weight=0.25 --prior-components 50 --name fashion-vae --out runs/vae --save runs/vae/fashion-vae-stage1.safetensors --threads 1 --seed 0 --sample-every 2340 --checkpoint-every 2340
	aigc train vae --init runs/vae/fashion-vae-stage1.safetensors --epochs 10 --set kl_weight=0.1 --prior-components 50 --name fashion-vae --out runs/vae-stage2 --save runs/vae-stage2/fashion-vae-stage2.safetensors --threads 2 --seed 0 --sample-every 2340 --checkpoint-every 2340
	aigc train vae --init runs/vae-stage2/fashion-vae-stage2.safetensors --epochs 5 --lr 2e-4 --perceptual runs/perceptual/fashion-perceptual.safetensors --perceptual-weight 1000 --prior-components 50 --name fashion-vae --out runs/vae-stage3 --save aigc/pretrained/fashion-vae.safetensors --threads 2 --seed 0 --sample-every 2340 --checkpoint-every 2340 --quiet
	aigc prior aigc/pretrained/fashion-vae.safetensors --components 50 --spread 1.15 --threads 2 --shipped
	aigc evaluate fashion-vae --n 10000 --update-card --shipped

docs-screens:       ## regenerate docs/ui-*.png (the studio on the shipped models, in Debian's Chromium)
	$(PY) scripts/screenshots.py

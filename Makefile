# may_wsgi: the whole workflow. `make run` serves the demo app, `make test` is what CI runs.
CARGO ?= cargo
BIND ?= 127.0.0.1:8000
ARGS ?=

.PHONY: build run test deps lint doc bench bench-capacity bench-proxied bench-models bench-glance soak fuzz clean

build:
	$(CARGO) build --release --all-targets

run:
	$(CARGO) run --release --bin may-wsgi -- --bind $(BIND) $(ARGS)

# What the tests use beyond Rust, installed if missing (.ci/deps says what and why), then
# lint (rustfmt, clippy, rustdoc, all with warnings denied), then every unit, integration,
# example and doc test.
test: deps lint
	$(CARGO) test --all-targets
	$(CARGO) test --doc

deps:
	./.ci/deps

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --no-default-features -- -D warnings
	RUSTDOCFLAGS='-D warnings' $(CARGO) doc --no-deps --quiet

doc:
	RUSTDOCFLAGS='-D warnings' $(CARGO) doc --no-deps

# The property tests of the head parser and the chunked decoder (src/http/fuzz.rs), with far
# more cases than `make test` runs, from a fresh seed, each property stopping after
# FUZZ_SECONDS (two run side by side: about two minutes in all). A failure prints its seed
# and the shrunk input; `make fuzz FUZZ_SEED=N` runs that seed again.
FUZZ_CASES ?= 100000000
FUZZ_SECONDS ?= 120
FUZZ_SEED ?= $(shell date +%s)

fuzz:
	FUZZ_CASES=$(FUZZ_CASES) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) \
		$(CARGO) test --lib http::fuzz -- --nocapture

# Side by side with the raw may_minihttp hello world, in one run (see benches/bench.sh),
# then the proxied and capacity sections, then the glance_api section if that example is built.
bench:
	./benches/bench.sh

# Only the capacity section: idle keep-alive connections, slowloris, fresh requests, beside
# may_minihttp and nginx (see benches/capacity.sh; knobs IDLE=10000 SLOW=2000 FRESH=200 ...).
bench-capacity:
	./benches/capacity.sh

# Only the proxied rows: hello and 1 MiB downloads through nginx (deploy/nginx/may-wsgi.conf)
# to may-wsgi, beside nginx serving the same bytes itself (see benches/proxied.sh).
bench-proxied:
	./benches/proxied.sh

# Hours compressed into SOAK_SECONDS (10 minutes): may-wsgi --workers 2 (release) under
# mixed load, a HUP every SOAK_HUP s and a worker killed every SOAK_KILL s; reports
# requests served and failed, RSS and descriptors of every process at start and end,
# zombies, and fails when an invariant breaks (see benches/soak.py). Not in CI; a
# 20-second version is (tests/soak.rs).
SOAK_SECONDS ?= 600
SOAK_HUP ?= 30
SOAK_KILL ?= 60
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)

soak:
	$(CARGO) build --release --bin may-wsgi
	python3 benches/soak.py --binary $(TARGET_DIR)/release/may-wsgi \
		--seconds $(SOAK_SECONDS) --hup-every $(SOAK_HUP) --kill-every $(SOAK_KILL)

# The coroutine and thread worker classes side by side on the demo app (idle and active
# connections, an I/O-bound, a CPU-bound and a blocking route), with eventlet and gunicorn
# gthread beside them when PYTHON can import them (see benches/models.py; knobs DURATION,
# SIZES, SERVERS), and the switch and stack costs (examples/pingpong.rs). Writes
# docs/models/: results.md, results.json, pingpong.txt and the SVG plots.
PYTHON ?= python3
bench-models:
	$(CARGO) build --release --bin may-wsgi --example pingpong
	$${CARGO_TARGET_DIR:-target}/release/examples/pingpong | tee docs/models/pingpong.txt
	PYTHON=$(PYTHON) python3 benches/models.py
	python3 benches/models_plot.py

# Only the glance_api section: examples/glance_api's image-list req/s, upload and download
# MiB/s and RSS against the issue's targets (see benches/glance.sh; knobs MIB=256 BIG_MIB=1024
# CONNS=50 DURATION=10, REF_URL=http://... to measure a running Glance beside it).
bench-glance:
	./benches/glance.sh

clean:
	$(CARGO) clean

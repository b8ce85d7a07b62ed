# The two commands of the README, and a few helpers.
#   make demo   set up everything, then run the main job end to end
#   make test   set up everything, then run every test but the long ones
#   make test-long  the long method-quality runs (label `long`, ~40 min)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all bootstrap configure build test test-long demo sanitize format clean

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
# orderings on SmolLM2); their figures are in docs/RESULTS.md.
test-long: build
	@ctest --test-dir $(BUILD) --output-on-failure -L '^long$$'

demo: build
	@scripts/demo $(BUILD)

# Unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize:
	@$(MAKE) --no-print-directory test BUILD=build-asan \
	  CMAKE_FLAGS="-DQUANTD_SANITIZE=ON -DQUANTD_BUILD_BENCH=OFF $(CMAKE_FLAGS)"

format:
	@git ls-files '*.h' '*.cc' '*.cu' | xargs clang-format -i

clean:
	@rm -rf $(BUILD) build-asan

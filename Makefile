# The README's commands. `make test` and `make demo` install what is missing (as root), configure
# and build first, so they work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo bench clean asan tsan fuzz

all: build

deps:
	@scripts/setup-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

demo: build
	@BUILD=$(BUILD) scripts/demo.sh

# Sanitized suites: ASan+UBSan over everything, TSan over everything (threaded parts matter).
asan:
	@$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DNF_SANITIZE=address -DNF_BUILD_BENCH=OFF"
tsan:
	@$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DNF_SANITIZE=thread -DNF_BUILD_BENCH=OFF"

# libFuzzer targets under ASan+UBSan, each for FUZZ_SECONDS (default 60).
fuzz:
	@scripts/fuzz.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz demo-out.csv

# The README's commands. `make test` and `make demo` install what is missing (as root), configure
# and build first, so they work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Extra package sets for scripts/setup-deps.sh (e.g. clang for `make asan`).
DEPS_EXTRA ?=
# Developer and CI builds turn warnings into errors; a plain `make` or a packager's cmake
# run does not. Target-specific, so `make test` passes it down to configure.
WERROR_FLAG ?=

.PHONY: all deps configure build test demo bench clean asan tsan fuzz release freebsd-check
all: build

deps:
	@scripts/setup-deps.sh $(DEPS_EXTRA)

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(WERROR_FLAG) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

test: WERROR_FLAG = -DNF_WERROR=ON
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

demo: build
	@BUILD=$(BUILD) scripts/demo.sh

# Sanitized suites: ASan+UBSan over everything, TSan over everything (threaded parts matter).
# The ASan build is also the Clang 14 build, so every landing compiles with both compilers.
asan:
	@$(MAKE) test BUILD=build-asan DEPS_EXTRA=clang \
	  CMAKE_FLAGS="-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DNF_SANITIZE=address -DNF_BUILD_BENCH=OFF"
tsan:
	@$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DNF_SANITIZE=thread -DNF_BUILD_BENCH=OFF"

# What a packager builds: Release, default flags (no -Werror), tests compiled but not run
# again (`make test` ran them).
release:
	@scripts/setup-deps.sh
	@cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build-release -j$(JOBS) -- --no-print-directory

# Every production unit compiled (syntax only) against FreeBSD 14.2's headers with Clang 14 and
# libc++, flags from $(BUILD)/compile_commands.json; skips when ../shared/freebsd is absent.
freebsd-check:
	@scripts/freebsd-check.sh $(BUILD)

# libFuzzer targets under ASan+UBSan, each for FUZZ_SECONDS (default 60).
fuzz:
	@scripts/fuzz.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz build-release demo-out.csv

# The two commands: `make run` and `make test`. Everything else is a helper.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# seconds each fuzz target runs: `make fuzz` long, `make test` short
FUZZ_SECONDS ?= 300
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps build compile run test test-unit test-sanitize fuzz format format-check bench clean

all: build

# What each purpose needs from Debian 12 is installed only when missing
# (scripts/install-deps.sh build|test|bench|format).
deps:
	@sh scripts/install-deps.sh build

# The service alone (no tests: they need cmocka, which `make test` installs).
build:
	@sh scripts/install-deps.sh build
	@$(MAKE) --no-print-directory compile TESTS=OFF

TESTS ?= ON
compile:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENABLE_WERROR=ON \
		-DBUILD_TESTS=$(TESTS) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Builds, migrates (on start) and serves the embedded default on 127.0.0.1:8080.
# A development server: unless RG_PAYMENTS_PROVIDERS is set, it also takes
# payments through the test provider (the service warns about it at start).
run: build
	@mkdir -p data
	RG_PAYMENTS_PROVIDERS="$${RG_PAYMENTS_PROVIDERS-test,manual}" ./$(BUILD)/risinggen serve

# Every test (against private PostgreSQL and Redis started for the run),
# the alert rules (promtool), the fuzz targets, then the whole suite again
# under ASan + UBSan.
test:
	@sh scripts/install-deps.sh test
	@$(MAKE) --no-print-directory compile
	@RG_REPORT_SKIPS=1 bash scripts/run-tests.sh $(BUILD)
	@sh scripts/check-rules.sh $(BUILD)/tools
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15
	@$(MAKE) --no-print-directory test-sanitize

test-unit:
	@sh scripts/install-deps.sh test
	@$(MAKE) --no-print-directory compile
	@RG_REPORT_SKIPS=1 bash scripts/run-tests.sh $(BUILD) -R 'unit_|conformance_|check_'

test-sanitize:
	@sh scripts/install-deps.sh test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DENABLE_WERROR=ON -DENABLE_SANITIZERS=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		bash scripts/run-tests.sh $(ASAN_BUILD)

# Every libFuzzer target of fuzz/ (clang, ASan + UBSan) for FUZZ_SECONDS
# each, two at a time, from the seed corpus of fuzz/corpus/.
fuzz:
	@sh scripts/install-deps.sh fuzz
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENABLE_WERROR=ON \
		-DENABLE_FUZZ=ON -DBUILD_TESTS=OFF -DRG_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@cd $(FUZZ_BUILD) && { ctest --output-on-failure -V -j2 >fuzz.log 2>&1; rc=$$?; \
		grep -E '^[0-9]+: fuzz_|tests passed|tests failed|Failed|\*\*\*' fuzz.log; exit $$rc; }

format:
	@sh scripts/install-deps.sh format
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@sh scripts/install-deps.sh format
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

bench:
	@sh scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory compile TESTS=OFF
	@sh bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

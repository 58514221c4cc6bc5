# The two commands: `make run` and `make test`. Everything else is a helper.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps build run test test-unit test-sanitize format format-check bench clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENABLE_WERROR=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Builds, migrates (on start) and serves the embedded default on 127.0.0.1:8080.
run: build
	@mkdir -p data
	./$(BUILD)/risinggen serve

# Every test, then the whole suite again under ASan + UBSan.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@grep -h '^SKIPPED ' $(BUILD)/Testing/Temporary/LastTest.log | sort -u || true
	@$(MAKE) --no-print-directory test-sanitize

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-sanitize: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DENABLE_WERROR=ON -DENABLE_SANITIZERS=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

bench: build
	@sh bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

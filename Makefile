# palisade: build, test and demo entry points. Debian 12, run as root for `deps`.
#
#   make demo   deps + build, then deploy/examples/ as a lab (root): prediction and kernel
#   make test   deps + build (warnings are errors) + ctest, an ASan+UBSan build of
#               the unit tests, a clang-format check and clang-tidy
#   make bench  Google Benchmark programs (results are reported, never asserted)
#   make fuzz   libFuzzer targets (clang), FUZZ_SECONDS (60) each, one at a time; every
#               target's committed corpus also replays in `make test` (ctest -L fuzz_replay)

SHELL := /bin/bash
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
# clang-format findings fail `make test` (the tree is clean); FORMAT_STRICT=0 only reports them.
FORMAT_STRICT ?= 1
CMAKE_FLAGS ?=
PALISADE := $(BUILD)/agent/palisade
EXAMPLES := deploy/examples
UNIT_TESTS := base_tests policy_tests datapath_tests agent_tests
# tests/fuzz/<stem>.cpp: a libFuzzer binary <stem> in the fuzz build, <stem>_replay elsewhere.
FUZZ_TARGETS := $(basename $(notdir $(wildcard tests/fuzz/*_fuzz.cpp)))
FORMAT_FILES = $(shell find policy datapath agent tests -name '*.cpp' -o -name '*.h' 2>/dev/null | sort)

.PHONY: all deps configure build test unit-test asan-test format-check tidy demo bench fuzz clean

all: build

deps:
	scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: deps configure
	cmake --build $(BUILD) -j$(JOBS)

test: build unit-test asan-test format-check tidy

unit-test:
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# Sanitizers catch what the unit tests only brush past: the same four test
# binaries, built with -fsanitize=address,undefined, must run clean.
asan-test: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPALISADE_SANITIZE=ON -DPALISADE_BENCH=OFF $(CMAKE_FLAGS)
	@set -e; targets=""; \
	for t in $(UNIT_TESTS); do \
	  if ninja -C $(ASAN_BUILD) -t query $$t >/dev/null 2>&1; then targets="$$targets $$t"; \
	  else echo "asan-test: no $$t target (no tests in that folder yet)"; fi; \
	done; \
	cmake --build $(ASAN_BUILD) -j$(JOBS) --target $$targets palisade; \
	for t in $$targets; do \
	  bin=$$(find $(ASAN_BUILD)/tests -maxdepth 1 -type f -name $$t); \
	  echo "== $$bin (ASan+UBSan)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $$bin --gtest_brief=1; \
	done
	@# The fuzz corpora too: seconds, and ASan sees what the normal build's replay cannot.
	cmake --build $(ASAN_BUILD) -j$(JOBS) --target $(addsuffix _replay,$(FUZZ_TARGETS))
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest -L fuzz_replay --output-on-failure -j$(JOBS)

# Reports every file clang-format would change; fatal unless FORMAT_STRICT=0.
format-check:
	@if clang-format --dry-run --Werror $(FORMAT_FILES) 2>/tmp/palisade-format.log; then \
	  echo "format-check: clean"; \
	else \
	  n=$$(grep -c 'error:' /tmp/palisade-format.log || true); \
	  files=$$(grep 'error:' /tmp/palisade-format.log | cut -d: -f1 | sort -u | wc -l); \
	  echo "format-check: $$n formatting findings in $$files files (clang-format -i to fix)"; \
	  if [ "$(FORMAT_STRICT)" = 1 ]; then cat /tmp/palisade-format.log; exit 1; fi; \
	fi

# clang-tidy with the checks .clang-tidy names, on every production source (and
# the headers it includes from our folders), through the build's
# compile_commands.json; any finding fails. Suppressions are in .clang-tidy or
# as NOLINT at the line, each with its reason.
TIDY_SOURCES := '$(CURDIR)/(policy|datapath|agent|proto/base)/.*\.cpp$$'
tidy: build
	@echo "== clang-tidy (-j$(JOBS)): policy datapath agent proto/base"
	@if run-clang-tidy -p $(BUILD) -j $(JOBS) -quiet $(TIDY_SOURCES) >$(BUILD)/tidy.log 2>&1; then \
	  echo "tidy: clean"; \
	else \
	  sed 's/\x1b\[[0-9;]*m//g' $(BUILD)/tidy.log | grep -E -A3 ': (warning|error):'; \
	  echo "tidy: findings above (whole log: $(BUILD)/tidy.log)"; exit 1; \
	fi

demo: build
	@echo "== palisade check: validate every manifest"
	$(PALISADE) check -f $(EXAMPLES)
	@echo
	@# The lab: the examples' 9 pods as network namespaces on their 2 nodes, real
	@# packets, prediction (reach) and kernel (probe) in one matrix that marks where
	@# they disagree ('!') and what was not probed ('-'); always torn down.
	@if [ "$$(id -u)" != 0 ]; then echo "demo: the lab needs root"; exit 1; fi
	@set -e; trap '$(PALISADE) lab down --name demo >/dev/null 2>&1 || true' EXIT; \
	$(PALISADE) lab down --name demo >/dev/null 2>&1 || true; \
	echo "== palisade lab up: namespaces, pods and services (no policy yet)"; \
	$(PALISADE) lab up --name demo -f $(EXAMPLES)/namespaces.yaml $(EXAMPLES)/pods.yaml $(EXAMPLES)/services.yaml; \
	for port in 9000 5432; do echo; echo "== before policies, TCP/$$port"; \
	  $(PALISADE) lab verify --name demo --port $$port; done; \
	echo; echo "== palisade lab apply: $(EXAMPLES)/policies"; \
	$(PALISADE) lab apply --name demo -f $(EXAMPLES)/policies; \
	for port in 9000 5432; do echo; echo "== with the policies, TCP/$$port"; \
	  $(PALISADE) lab verify --name demo --port $$port; done; \
	echo; echo "== palisade lab down"; $(PALISADE) lab down --name demo

bench: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPALISADE_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)
	@set -e; found=0; \
	for b in $$(find $(BUILD)/tests/bench -maxdepth 1 -type f -name '*_bench' | sort); do \
	  found=1; echo "== $$b"; $$b; \
	done; \
	if [ $$found = 0 ]; then echo "bench: no benchmark programs built"; fi

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPALISADE_FUZZ=ON -DPALISADE_BENCH=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $(FUZZ_TARGETS)
	@set -e; found=0; \
	for f in $$(find $(FUZZ_BUILD)/tests/fuzz -maxdepth 1 -type f -name '*_fuzz' | sort); do \
	  found=1; stem=$$(basename $$f); corpus=tests/fuzz/corpus/$$stem; \
	  work=$(FUZZ_BUILD)/corpus/$$stem; mkdir -p $$work; \
	  echo "== $$stem ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$work $$( [ -d $$corpus ] && echo $$corpus ); \
	done; \
	if [ $$found = 0 ]; then echo "fuzz: no fuzz targets built"; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

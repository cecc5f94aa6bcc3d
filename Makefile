# SPDX-License-Identifier: MIT
# The commands of the README. Meson does the build; this file only names the
# steps. Each target installs what is missing first (scripts/deps.sh).

BUILD ?= build
PREFIX ?= /usr/local
MESON_OPTS ?=
MODES = lazy builtin eager dlopen-all bundle

.PHONY: all deps check demo install sanitize tsan valgrind modes clean fuzz bench abi-baseline

all: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@sh scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(MESON_OPTS) $(BUILD)

check: all
	meson test -C $(BUILD) --print-errorlogs --num-processes 2
	@sh scripts/summary.sh $(BUILD)

demo: all
	@sh scripts/demo.sh $(BUILD)

# Installs under PREFIX, staged under DESTDIR when set, leaving the build's
# configuration alone (scripts/install.sh).
install: all
	@sh scripts/install.sh "$(BUILD)" "$(PREFIX)" "$(DESTDIR)"

# Rewrites the committed ABI baseline (abi/) from the built library: for an
# intended change of the ABI, in the same commit as the change. The test
# 'abi' (make check) fails on any other change than added symbols.
abi-baseline: all
	sh scripts/abi-dump.sh $(BUILD)/lib/liblazymod.so.0 abi/liblazymod.so.0.xml

# The whole tree built with AddressSanitizer and UndefinedBehaviorSanitizer,
# and the whole test suite run there.
sanitize: deps
	@test -f build-sanitize/build.ninja || meson setup $(MESON_OPTS) build-sanitize \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C build-sanitize
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-sanitize --print-errorlogs --num-processes 2
	@sh scripts/summary.sh build-sanitize

# The tests that race threads and processes, under ThreadSanitizer.
tsan: deps
	@test -f build-tsan/build.ninja || meson setup $(MESON_OPTS) build-tsan \
		-Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
	ninja -C build-tsan
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 meson test -C build-tsan \
		--print-errorlogs --num-processes 2 --suite test-load --suite test-fault --suite test-bundle
	@sh scripts/summary.sh build-tsan

# The library's tests under Valgrind's memcheck.
valgrind: all
	@command -v valgrind >/dev/null || sh scripts/deps.sh --valgrind
	meson test -C $(BUILD) --print-errorlogs --num-processes 2 --logbase valgrind \
		--suite test-note --suite test-index --suite test-probe --suite test-load \
		--suite test-builtin --suite test-fault --suite test-bundle \
		--wrapper 'valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --quiet --suppressions=$(CURDIR)/tests/valgrind.supp'

# vdisk built in each of its five modes, each in build-<mode>/ with the same
# layout (build-<mode>/bin/vdisk), and vdisk's tests run in each.
modes: deps
	@for m in $(MODES); do \
		test -f build-$$m/build.ninja || meson setup $(MESON_OPTS) -Dmodules=$$m build-$$m || exit 1; \
		ninja -C build-$$m || exit 1; \
	done
	@status=0; for m in $(MODES); do \
		echo "== vdisk tests, mode $$m"; \
		meson test -C build-$$m --suite vdisk --print-errorlogs --num-processes 2 || status=1; \
	done; sh scripts/summary.sh $(addprefix build-,$(MODES)) && exit $$status

# libFuzzer targets (fuzz/): built with clang from the sources, each run for
# FUZZ_SECONDS (default 60) on a scratch copy of its corpus; fails on a crash.
fuzz:
	@sh fuzz/deps.sh
	$(MAKE) -C fuzz run

# The benchmark suite: a release build in build-bench/, results in
# bench/results/, the report in docs/PERFORMANCE.md (bench/run.sh).
bench: deps
	@sh bench/run.sh

clean:
	rm -rf $(BUILD) build-sanitize build-tsan $(addprefix build-,$(MODES))

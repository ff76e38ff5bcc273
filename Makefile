# cutover build.  `make` builds bin/cutover and bin/cutover-relay; `make test`
# runs every unit and integration test plus the scenario library; `make run`
# runs the scenario library on built-in defaults.  SAN=1 builds everything
# with ASan+UBSan into a separate tree (build/san, bin/san) so that the two
# builds never mix objects.  WERROR=1 (set by CI) turns warnings into errors.
#
# Source files are found by wildcard: adding a module is adding a .c file in
# its folder; adding a unit test is adding tests/unit/test_<name>.c.
#
# The build is parallel by default (-j from the core count; a -j on the
# command line wins) and prints one short line per step (`CC relay/x.c`);
# V=1 prints the full commands.

CC      ?= cc
SAN     ?=
WERROR  ?=
V       ?=

MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
# `make clean all` must not build while it deletes.
ifneq ($(filter clean,$(MAKECMDGOALS)),)
  .NOTPARALLEL:
endif

ifeq ($(V),1)
  Q    :=
  say   = @:
else
  Q    := @
  say   = @printf '  %-4s %s\n' $(1) $(2);
endif

ifeq ($(SAN),1)
  BUILD   := build/san
  BINDIR  := bin/san
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT     := -O1 -g
else
  BUILD   := build/rel
  BINDIR  := bin
  SANFLAGS :=
  OPT     := -O2 -g
endif

# The libraries' flags come from pkg-config, which can only answer once the
# packages are installed.  So they are not read while this file is parsed:
# $(FLAGS_MK) is generated after the deps step (scripts/deps.sh) and included;
# make remakes an included makefile that is missing or stale and then
# re-reads everything, so the first build on a fresh machine links with the
# flags of the packages it has just installed.
PKGS     := libcurl libmicrohttpd jansson
DEPS_STAMP := build/.deps-ok
FLAGS_MK   := build/flags.mk
# Goals that need no library (and must not install any).
NOFLAGS_GOALS := clean format format-check deps
ifneq ($(MAKECMDGOALS),)
  ifeq ($(filter-out $(NOFLAGS_GOALS),$(MAKECMDGOALS)),)
    SKIP_FLAGS := 1
  endif
endif
ifneq ($(SKIP_FLAGS),1)
  include $(FLAGS_MK)
endif

WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
  WARN += -Werror
endif
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -MMD -MP \
           -I. -Icommon $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS   = $(PKG_LIBS) -lev -lm -lpthread
# The relay's fleet state (relay/relay_shared.c) talks to Redis with hiredis.
RELAY_LIBS := -lhiredis

# Modules.  Each folder is one static archive; main.c of relay/ and harness/
# is the program entry point and stays out of the archive so that unit tests
# can link the archives.
COMMON_SRC  := $(wildcard common/*.c)
MOCKS_SRC   := $(wildcard mocks/*.c)
RELAY_SRC   := $(filter-out relay/main.c,$(wildcard relay/*.c))
HARNESS_SRC := $(filter-out harness/main.c,$(wildcard harness/*.c))
REPORTS_SRC := $(wildcard reports/*.c)
SUPPORT_SRC := $(wildcard tests/support/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

LIBCO      := $(BUILD)/libco.a
LIBMOCK    := $(BUILD)/libmock.a
LIBRELAY   := $(BUILD)/librelay.a
LIBHARNESS := $(BUILD)/libharness.a
LIBREPORTS := $(BUILD)/libreports.a
LIBTSUP    := $(BUILD)/libtsupport.a

CUTOVER    := $(BINDIR)/cutover
RELAY      := $(BINDIR)/cutover-relay
FLOOR      := $(BINDIR)/floor-proxy

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
INTEG_SRC  := $(wildcard tests/integration/test_*.c)
INTEG_BIN  := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(INTEG_SRC))

.PHONY: all bench-floor deps test unit integration scenarios run bench fuzz fuzz-smoke fuzz-regress valgrind soak clean format format-check

all: $(CUTOVER) $(RELAY) $(FLOOR)

# Install missing Debian packages, then ask pkg-config (failing loudly when
# it cannot answer rather than linking without libraries).
$(DEPS_STAMP): scripts/deps.sh
	@sh scripts/deps.sh
	@mkdir -p $(dir $@) && touch $@
$(FLAGS_MK): $(DEPS_STAMP) Makefile
	@mkdir -p $(dir $@)
	@c=$$(pkg-config --cflags $(PKGS)) && l=$$(pkg-config --libs $(PKGS)) && \
	  m=$$(pkg-config --libs cmocka 2>/dev/null || echo -lcmocka) && \
	  printf 'PKG_CFLAGS := %s\nPKG_LIBS := %s\nCMOCKA_LIBS := %s\n' "$$c" "$$l" "$$m" >$@.tmp && \
	  mv $@.tmp $@ || { rm -f $@.tmp; echo "make: pkg-config does not know $(PKGS); run make deps" >&2; exit 1; }
deps:
	@sh scripts/deps.sh

# --version: the git describe of the checkout, compiled into one file and
# rebuilt when it changes (the stamp is rewritten only then).
GIT_DESCRIBE := $(shell git describe --tags --always --dirty 2>/dev/null)
VERSION_STAMP := $(BUILD)/version.stamp
$(BUILD)/harness/version.o: CFLAGS += -DCUTOVER_GIT_DESCRIBE='"$(GIT_DESCRIBE)"'
$(BUILD)/harness/version.o: $(VERSION_STAMP)
$(VERSION_STAMP): FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(GIT_DESCRIBE)" ] || echo "$(GIT_DESCRIBE)" >$@
FORCE:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIBCO): $(call obj,$(COMMON_SRC))
$(LIBMOCK): $(call obj,$(MOCKS_SRC))
$(LIBRELAY): $(call obj,$(RELAY_SRC))
$(LIBHARNESS): $(call obj,$(HARNESS_SRC))
$(LIBREPORTS): $(call obj,$(REPORTS_SRC))
$(LIBTSUP): $(call obj,$(SUPPORT_SRC))
$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(CUTOVER): $(BUILD)/harness/main.o $(LIBHARNESS) $(LIBREPORTS) $(LIBMOCK) $(LIBCO)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(RELAY): $(BUILD)/relay/main.o $(LIBRELAY) $(LIBCO)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(RELAY_LIBS)

# The floor benchmark's proxy (bench/floor.sh, docs/bench-floor.md).
bench-floor: $(FLOOR)
$(FLOOR): $(BUILD)/bench/floor_proxy.o $(LIBCO)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

TEST_LIBS := $(LIBTSUP) $(LIBHARNESS) $(LIBREPORTS) $(LIBMOCK) $(LIBRELAY) $(LIBCO)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_LIBS) $(LDLIBS) $(RELAY_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/%: tests/integration/%.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_LIBS) $(LDLIBS) $(RELAY_LIBS) $(CMOCKA_LIBS)

# The test binaries find the programs under test through CUTOVER_BIN; the soak
# inside `make test` is the short one (SOAK_SECONDS, default here 8 s).
# The scenario library runs side by side (cutover run --jobs; default
# min(2 x cores, 4)); JOBS=1 runs it one scenario after the other.
JOBS_FLAG = $(if $(JOBS),--jobs $(JOBS))

test: all $(UNIT_BIN) $(INTEG_BIN)
	@CUTOVER_BIN=$(BINDIR) CUTOVER_BUILD=$(BUILD) SOAK_SECONDS=$${SOAK_SECONDS:-8} sh tests/run.sh \
	    --scenarios "$(CUTOVER) run scenarios/ --out $(BUILD)/out $(JOBS_FLAG)" $(UNIT_BIN) $(INTEG_BIN)

scenarios: all
	$(CUTOVER) run scenarios/ --out $(BUILD)/out $(JOBS_FLAG)

unit: all $(UNIT_BIN)
	@CUTOVER_BIN=$(BINDIR) sh tests/run.sh $(UNIT_BIN)

integration: all $(INTEG_BIN)
	@CUTOVER_BIN=$(BINDIR) sh tests/run.sh $(INTEG_BIN)

run: all
	$(CUTOVER) run scenarios/

# Every benchmark side by side (bench/mock.sh first), results in docs/bench.md.
bench: all
	sh bench/run-all.sh

# memcheck over every unit test: any error, or a definite or indirect leak,
# fails.  Logs in $(BUILD)/valgrind/.
valgrind: $(UNIT_BIN)
	@mkdir -p $(BUILD)/valgrind
	@set -e; for t in $(UNIT_BIN); do n=$$(basename $$t); \
	  printf '== valgrind %s: ' $$n; \
	  if valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	       --errors-for-leak-kinds=definite,indirect $$t >$(BUILD)/valgrind/$$n.log 2>&1; then \
	    sed -n 's/^\[  PASSED  \] \([0-9]*\).*/\1 tests, clean/p' $(BUILD)/valgrind/$$n.log; \
	  else tail -60 $(BUILD)/valgrind/$$n.log; echo "valgrind: $$n failed"; exit 1; fi; \
	done

# The long soak (1,000,000 requests, bounded at 15 min); docs/soak.*.
soak: all
	sh bench/soak.sh

# libFuzzer targets: a separate clang build under build/fuzz (fuzz/fuzz.mk).
fuzz fuzz-smoke fuzz-regress:
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk $@

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# Fails when a file is not as .clang-format wants it (run by .ci/run).
format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h') && echo "format: clean"


# Mutation run over cutover-relay (docs/mutation.md): each tests/mutants/
# file is one relay bug, applied to a copy under build/mutation/, built and
# run against the scenario library.  MUTATION_ARGS passes options (--only,
# --timeout, --min-score).  mutation-smoke: every mutant still applies to
# the code it mutates (--check: a relay change that moved a mutant's snippet
# makes it stale), then the few mutants of tests/mutants/SMOKE against their
# own scenarios (CI, a few minutes).
.PHONY: mutation mutation-smoke
mutation: all
	python3 scripts/mutation.py $(MUTATION_ARGS)
mutation-smoke: all
	python3 scripts/mutation.py --check
	python3 scripts/mutation.py --smoke $(MUTATION_ARGS)

clean:
	rm -rf build bin out

-include $(shell find build -name '*.d' 2>/dev/null)

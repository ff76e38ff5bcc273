# libFuzzer build, apart from the normal one (build/fuzz, clang, ASan+UBSan
# with the fuzzer's coverage instrumentation).  Invoked by the top Makefile:
#   make fuzz          each target for FUZZ_SECONDS (default 60)
#   make fuzz-smoke    each target for FUZZ_SMOKE_SECONDS (default 8), for CI
#   make fuzz-regress  each target once over its committed corpus
# Seeds live in fuzz/corpus/<target>/ (committed; crash inputs found and
# fixed are kept there as regression inputs).  New inputs the fuzzer finds go
# to build/fuzz/corpus/<target>/, crashes to build/fuzz/artifacts/.

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 8
FBUILD := build/fuzz

PKGS       := libcurl libmicrohttpd jansson
FSAN       := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FCFLAGS    := -std=c11 -D_GNU_SOURCE -O1 -g $(FSAN) -fsanitize=fuzzer-no-link \
              -I. -Icommon $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FLDLIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev -lm -lpthread -lhiredis

FSRC := $(wildcard common/*.c mocks/*.c reports/*.c) \
        $(filter-out relay/main.c,$(wildcard relay/*.c)) \
        $(filter-out harness/main.c,$(wildcard harness/*.c))
FOBJ := $(patsubst %.c,$(FBUILD)/%.o,$(FSRC))
FLIB := $(FBUILD)/libfuzzall.a

TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FBINS   := $(addprefix $(FBUILD)/,$(TARGETS))

.PHONY: fuzz-build fuzz fuzz-smoke fuzz-regress

fuzz-build: $(FBINS)

$(FBUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FCFLAGS) -c $< -o $@

$(FLIB): $(FOBJ)
	@rm -f $@
	ar rcs $@ $^

$(FBUILD)/fuzz_%: fuzz/fuzz_%.c $(FLIB)
	$(FUZZ_CC) $(FCFLAGS) -fsanitize=fuzzer -o $@ $< $(FLIB) $(FLDLIBS)

fuzz: fuzz-build
	@set -e; $(foreach t,$(TARGETS),$(call fuzz_run_sh,$(t),$(FUZZ_SECONDS)))
fuzz-smoke: fuzz-build
	@set -e; $(foreach t,$(TARGETS),$(call fuzz_run_sh,$(t),$(FUZZ_SMOKE_SECONDS)))

# Shell form (sh has no PIPESTATUS): the fuzzer's own status decides.
fuzz_run_sh = mkdir -p $(FBUILD)/corpus/$(1) $(FBUILD)/artifacts; \
  echo "== $(1): $(2) s"; \
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  $(FBUILD)/$(1) -max_total_time=$(2) -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix=$(FBUILD)/artifacts/$(1)- \
    $(FBUILD)/corpus/$(1) fuzz/corpus/$(1) >$(FBUILD)/$(1).log 2>&1 || \
    { tail -60 $(FBUILD)/$(1).log; echo "FUZZ FAILURE in $(1): see $(FBUILD)/$(1).log and $(FBUILD)/artifacts/"; exit 1; }; \
  grep -E 'stat::number_of_executed_units|stat::new_units_added' $(FBUILD)/$(1).log | tr '\n' ' '; echo;

fuzz-regress: fuzz-build
	@set -e; for t in $(TARGETS); do \
	  echo "== $$t: $$(ls fuzz/corpus/$$t | wc -l) inputs"; \
	  $(FBUILD)/$$t -runs=0 fuzz/corpus/$$t >$(FBUILD)/$$t.regress.log 2>&1 || \
	    { tail -40 $(FBUILD)/$$t.regress.log; exit 1; }; \
	done

# kyosai-ledger — one non-recursive Makefile (STYLE rule 28).
#
#   make            build everything into build/
#   make test       every test: cmocka unit tests, then pytest system tests
#   make check      the unit and system tests again under ASan+UBSan (build-asan/)
#   make demo       create a ledger, post a realistic sample, show and verify it
#   make bench      benchmarks (never timed tests); results in bench/RESULTS.md
#   make lint       clang-format check, cppcheck, function-length ratchet
#   make deps       install missing Debian packages (every other target checks this)
#   make install PREFIX=/usr/local
#
# Variables: SANITIZE=address,undefined | thread, WERROR=0 (packagers), KY_DEBUG=1.

PKG_CONFIG ?= pkg-config
CC ?= cc
PYTHON ?= /usr/bin/python3
PREFIX ?= /usr/local
WERROR ?= 1

ifeq ($(SANITIZE),)
BUILD ?= build
SAN_FLAGS :=
else
BUILD ?= build-$(subst $(comma),-,$(SANITIZE))
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer -DKY_DEBUG
endif
comma := ,

PKGS := lmdb libsodium libcrypto libxxhash inih
TEST_PKGS := cmocka libcjson
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2 \
        -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN += -Werror
endif
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -MMD -MP
CFLAGS ?= -O2 -g
CFLAGS += -std=c17 $(WARN) -fPIC $(SAN_FLAGS) $(if $(KY_DEBUG),-DKY_DEBUG)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) $(TEST_PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CJSON_LIBS = $(shell $(PKG_CONFIG) --libs libcjson 2>/dev/null)
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)
LDLIBS_ALL = $(PKG_LIBS) -lev -lpthread
CLIENT_LDLIBS = $(shell $(PKG_CONFIG) --libs libxxhash libsodium 2>/dev/null) -lpthread
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS)

# ---- sources ---------------------------------------------------------------------------
LEDGER_SRC := $(wildcard common/*.c) $(wildcard ledger/*.c)
OPSLIB_SRC := $(filter-out ops/kyosaictl.c,$(wildcard ops/*.c))
PROTO_SRC := $(wildcard proto/*.c)
NODE_SRC := $(filter-out node/kyosaid.c,$(wildcard node/*.c))
CLIENT_SRC := $(wildcard client/*.c)
SECURE_SRC := $(wildcard secure/*.c)
SECURE_OBJ := $(SECURE_SRC:%.c=$(BUILD)/%.o)
SECURE_LIB := $(BUILD)/libkysecure.a
PROTO_OBJ := $(PROTO_SRC:%.c=$(BUILD)/%.o)
NODE_OBJ := $(NODE_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
PROTO_LIB := $(BUILD)/libkyproto.a
NODE_LIB := $(BUILD)/libkynode.a
CLIENT_LIB := $(BUILD)/libkyosai.a
CLIENT_SO := $(BUILD)/libkyosai.so
KYOSAID := $(BUILD)/kyosaid
LEDGER_OBJ := $(LEDGER_SRC:%.c=$(BUILD)/%.o)
OPSLIB_OBJ := $(OPSLIB_SRC:%.c=$(BUILD)/%.o)
LEDGER_LIB := $(BUILD)/libkyledger.a
OPS_LIB := $(BUILD)/libkyops.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))

KYOSAICTL := $(BUILD)/kyosaictl
EXAMPLE_BIN := $(patsubst client/examples/%.c,$(BUILD)/examples/%,$(wildcard client/examples/*.c))
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: all deps test unit-test system-test check bench demo lint clean install
.DEFAULT_GOAL := all

# Static libraries in link order: users before what they use.
ALL_LIBS = $(OPS_LIB) $(NODE_LIB) $(CLIENT_LIB) $(SECURE_LIB) $(PROTO_LIB) $(LEDGER_LIB)

all: deps $(ALL_LIBS) $(CLIENT_SO) $(BUILD)/kyosai.pc $(KYOSAICTL) $(KYOSAID) $(UNIT_BIN) \
     $(BENCH_BIN) $(EXAMPLE_BIN)

deps:
	@./ops/deps.sh --install

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LEDGER_LIB): $(LEDGER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(PROTO_LIB): $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(NODE_LIB): $(NODE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SECURE_LIB): $(SECURE_OBJ) $(BUILD)/common/ky_err.o
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The client library is built with hidden visibility; only KYOSAI_EXPORT symbols show.
$(BUILD)/client/%.o: client/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=hidden -DKYOSAI_BUILDING -c $< -o $@

$(CLIENT_LIB): $(CLIENT_OBJ) $(SECURE_OBJ) $(PROTO_OBJ) $(BUILD)/common/ky_err.o
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CLIENT_SO): $(CLIENT_OBJ) $(SECURE_OBJ) $(PROTO_OBJ) $(BUILD)/common/ky_err.o client/kyosai.map
	$(CC) -shared $(CFLAGS) $(filter %.o,$^) -o $@ -Wl,-soname,libkyosai.so.0 \
	    -Wl,--version-script=client/kyosai.map $(CLIENT_LDLIBS)

$(BUILD)/kyosai.pc: client/kyosai.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' $< > $@

$(KYOSAID): $(BUILD)/node/kyosaid.o $(NODE_LIB) $(CLIENT_LIB) $(SECURE_LIB) $(PROTO_LIB) $(LEDGER_LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS_ALL)

$(BUILD)/examples/%: client/examples/%.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iclient $< $(CLIENT_LIB) -o $@ $(CLIENT_LDLIBS)

$(OPS_LIB): $(OPSLIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^ $(if $^,,)

$(KYOSAICTL): $(BUILD)/ops/kyosaictl.o $(ALL_LIBS)
	$(CC) $(CFLAGS) $^ -o $@ $(CJSON_LIBS) $(LDLIBS_ALL)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(ALL_LIBS)
	$(CC) $(CFLAGS) $^ -o $@ $(CJSON_LIBS) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_HELPER_OBJ) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(CMOCKA_LIBS) $(CJSON_LIBS) $(LDLIBS_ALL)

# ---- tests -----------------------------------------------------------------------------
# Unit tests run from the repository root so they find ../shared/vectors via KY_VECTORS.
KY_VECTORS ?= $(abspath ../shared/vectors)
export KY_VECTORS

test: all
	@$(MAKE) --no-print-directory unit-test system-test fuzz-smoke

unit-test: $(UNIT_BIN)
	@./tests/run-unit.sh $(UNIT_BIN)

system-test: $(KYOSAICTL) $(KYOSAID) $(BENCH_BIN) $(EXAMPLE_BIN)
	KY_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/system

check: deps
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@$(MAKE) --no-print-directory SANITIZE=address,undefined unit-test system-test

bench: all
	./bench/run-bench.sh $(BUILD)

demo: all
	./ops/demo.sh $(BUILD)

lint: deps
	./tests/lint.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(KYOSAICTL) $(KYOSAID) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 client/kyosai.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(CLIENT_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(CLIENT_SO) $(DESTDIR)$(PREFIX)/lib/libkyosai.so.0
	ln -sf libkyosai.so.0 $(DESTDIR)$(PREFIX)/lib/libkyosai.so
	sed -e 's|@PREFIX@|$(PREFIX)|' client/kyosai.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/kyosai.pc
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/kyosai.pc

clean:
	rm -rf build build-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing (tests/fuzz/) ---------------------------------------------------------------
#   make fuzz          build the libFuzzer harnesses with clang into build-fuzz/ and run each
#                      for FUZZ_SECONDS (default 150) from a scratch copy of its seed corpus;
#                      non-zero exit if any harness crashes, leaks, times out or runs out of
#                      memory (reproducers go to build-fuzz/artifacts/<harness>/)
#   make fuzz-smoke    the same with FUZZ_SECONDS=5 (the CI smoke, about half a minute)
#   make fuzz-corpus   regenerate the committed seed corpora (tests/fuzz/corpus/) from the
#                      real encoders
#   FUZZ_HARNESSES="frame msg" limits the run to those harnesses.
# fuzz_noise needs secure/channel.c; until it exists the noise harness is left out.
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 150
FUZZ_HAVE_NOISE := $(wildcard secure/channel.c)
FUZZ_HARNESSES ?= frame msg entry import $(if $(FUZZ_HAVE_NOISE),noise)
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c17 -g -O1 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DKY_DEBUG -MMD -MP \
              -Wall -Wextra -Wno-missing-field-initializers $(PKG_CFLAGS)
FUZZ_LDLIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) libcjson 2>/dev/null)
FUZZ_PROTO := proto/frame.c proto/msg.c proto/status.c common/ky_err.c tests/fuzz/msg_check.c
FUZZ_SRC_frame := tests/fuzz/fuzz_frame.c $(FUZZ_PROTO)
FUZZ_SRC_msg := tests/fuzz/fuzz_msg.c $(FUZZ_PROTO)
FUZZ_SRC_entry := tests/fuzz/fuzz_entry.c ledger/entry.c ledger/sha256.c common/ky_err.c
FUZZ_SRC_import := tests/fuzz/fuzz_import.c ops/import.c ledger/entry.c ledger/sha256.c \
                   common/ky_err.c
FUZZ_SRC_noise := tests/fuzz/fuzz_noise.c $(wildcard secure/*.c) common/ky_err.c
FUZZ_GEN_SRC := tests/fuzz/gen_corpus.c $(FUZZ_PROTO) ledger/entry.c ledger/sha256.c
FUZZ_BIN := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)
fuzz_obj = $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(1))

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-corpus

fuzz: fuzz-build
	./tests/fuzz/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5

fuzz-build: deps $(FUZZ_BIN)

# Project code: instrumented, warnings shown but not fatal (the gcc build owns -Werror).
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -c $< -o $@

# The harnesses themselves are held to the project's warning set.
$(FUZZ_BUILD)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) $(FUZZ_SAN) -c $< -o $@

$(FUZZ_BUILD)/fuzz_frame: $(call fuzz_obj,$(FUZZ_SRC_frame))
	$(FUZZ_CC) $(FUZZ_SAN) $^ -o $@ $(FUZZ_LDLIBS)

$(FUZZ_BUILD)/fuzz_msg: $(call fuzz_obj,$(FUZZ_SRC_msg))
	$(FUZZ_CC) $(FUZZ_SAN) $^ -o $@ $(FUZZ_LDLIBS)

$(FUZZ_BUILD)/fuzz_entry: $(call fuzz_obj,$(FUZZ_SRC_entry))
	$(FUZZ_CC) $(FUZZ_SAN) $^ -o $@ $(FUZZ_LDLIBS)

$(FUZZ_BUILD)/fuzz_import: $(call fuzz_obj,$(FUZZ_SRC_import))
	$(FUZZ_CC) $(FUZZ_SAN) $^ -o $@ $(FUZZ_LDLIBS)

$(FUZZ_BUILD)/fuzz_noise: $(call fuzz_obj,$(FUZZ_SRC_noise))
	$(FUZZ_CC) $(FUZZ_SAN) $^ -o $@ $(FUZZ_LDLIBS)

# The seed generator runs the real encoders; built without the fuzzer runtime (own main).
$(FUZZ_BUILD)/gen/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=address,undefined -c $< -o $@

$(FUZZ_BUILD)/gen_corpus: $(FUZZ_GEN_SRC:%.c=$(FUZZ_BUILD)/gen/%.o)
	$(FUZZ_CC) -fsanitize=address,undefined $^ -o $@ $(FUZZ_LDLIBS)

# fuzz_noise writes its own seeds (it holds the fixed keys) when KY_FUZZ_WRITE_SEEDS is set.
fuzz-corpus: deps $(FUZZ_BUILD)/gen_corpus $(if $(FUZZ_HAVE_NOISE),$(FUZZ_BUILD)/fuzz_noise)
	$(FUZZ_BUILD)/gen_corpus tests/fuzz/corpus
	$(if $(FUZZ_HAVE_NOISE),KY_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/noise $(FUZZ_BUILD)/fuzz_noise)

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

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

PKGS := lmdb libsodium libcrypto libxxhash
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
LDLIBS_ALL = $(PKG_LIBS) -lpthread
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS)

# ---- sources ---------------------------------------------------------------------------
LEDGER_SRC := $(wildcard common/*.c) $(wildcard ledger/*.c)
OPSLIB_SRC := $(filter-out ops/kyosaictl.c,$(wildcard ops/*.c))
LEDGER_OBJ := $(LEDGER_SRC:%.c=$(BUILD)/%.o)
OPSLIB_OBJ := $(OPSLIB_SRC:%.c=$(BUILD)/%.o)
LEDGER_LIB := $(BUILD)/libkyledger.a
OPS_LIB := $(BUILD)/libkyops.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))

KYOSAICTL := $(BUILD)/kyosaictl
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: all deps test unit-test system-test check bench demo lint clean install
.DEFAULT_GOAL := all

all: deps $(LEDGER_LIB) $(OPS_LIB) $(KYOSAICTL) $(UNIT_BIN) $(BENCH_BIN)

deps:
	@./ops/deps.sh --install

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LEDGER_LIB): $(LEDGER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(OPS_LIB): $(OPSLIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^ $(if $^,,)

$(KYOSAICTL): $(BUILD)/ops/kyosaictl.o $(OPS_LIB) $(LEDGER_LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(CJSON_LIBS) $(LDLIBS_ALL)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(OPS_LIB) $(LEDGER_LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(CJSON_LIBS) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_HELPER_OBJ) $(OPS_LIB) $(LEDGER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(CMOCKA_LIBS) $(CJSON_LIBS) $(LDLIBS_ALL)

# ---- tests -----------------------------------------------------------------------------
# Unit tests run from the repository root so they find ../shared/vectors via KY_VECTORS.
KY_VECTORS ?= $(abspath ../shared/vectors)
export KY_VECTORS

test: all
	@$(MAKE) --no-print-directory unit-test system-test

unit-test: $(UNIT_BIN)
	@./tests/run-unit.sh $(UNIT_BIN)

system-test: $(KYOSAICTL) $(BENCH_BIN)
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
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(KYOSAICTL) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

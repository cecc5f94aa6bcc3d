# SPDX-License-Identifier: MIT
# The benchmark's own programs, built against the release build's library:
#   make -f bench/tools.mk ROOT=. BUILD=build-bench O=build-bench/benchtools
ROOT ?= .
BUILD ?= build-bench
O ?= $(BUILD)/benchtools
CC ?= gcc
LIBDIR := $(abspath $(BUILD))/lib
CFLAGS := -O2 -g -Wall -Wextra -std=gnu11 -I$(ROOT)/include -I$(ROOT)/bench/src
SRC := $(ROOT)/bench/src
HDRS := $(SRC)/bench.h $(ROOT)/include/lazymod.h $(ROOT)/include/lazymod/common.h

all: $(O)/runcells $(O)/micro $(O)/internal $(O)/memhost $(O)/vmpick

# Static and small: see runcells.c on the driver's share of ru_maxrss.
$(O)/runcells: $(SRC)/runcells.c $(SRC)/bench.h
	@mkdir -p $(O)
	$(CC) $(CFLAGS) -static -o $@ $<

$(O)/micro: $(SRC)/micro.c $(HDRS) $(LIBDIR)/liblazymod.so
	@mkdir -p $(O)
	$(CC) $(CFLAGS) -o $@ $< -L$(LIBDIR) -llazymod -Wl,-rpath,$(LIBDIR)

$(O)/vmpick: $(SRC)/vmpick.c $(HDRS) $(LIBDIR)/liblazymod.so
	@mkdir -p $(O)
	$(CC) $(CFLAGS) -o $@ $< -L$(LIBDIR) -llazymod -Wl,-rpath,$(LIBDIR)

$(O)/memhost: $(SRC)/memhost.c $(HDRS) $(LIBDIR)/liblazymod.so
	@mkdir -p $(O)
	$(CC) $(CFLAGS) -o $@ $< -L$(LIBDIR) -llazymod -Wl,-rpath,$(LIBDIR)

$(O)/internal: $(SRC)/internal.c $(HDRS) $(ROOT)/lib/lazymod-private.h $(LIBDIR)/liblazymod-internal.a
	@mkdir -p $(O)
	$(CC) $(CFLAGS) -I$(ROOT)/lib -o $@ $< $(LIBDIR)/liblazymod-internal.a -lpthread -ldl

.PHONY: all

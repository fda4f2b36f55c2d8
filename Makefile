# kino: build the library, the C examples, the demo, and run the tests.
#   make demo    build everything, run the C player against a local collector
#   make test    run every test (Rust, C through the ABI, valgrind)
#   make header  regenerate include/kino.h from the Rust sources

CARGO   ?= cargo
CC      ?= cc
CFLAGS  ?= -std=c99 -O2 -g -Wall -Wextra -Wpedantic -Werror -D_POSIX_C_SOURCE=200809L
LIBDIR  := target/release
BUILD   := examples-c/build

.PHONY: all lib examples demo test header check-header check-symbols clean

all: lib examples

lib:
	$(CARGO) build --release --quiet
	ln -sf libkino.so $(LIBDIR)/libkino.so.0

examples: lib $(BUILD)/player

$(BUILD)/player: examples-c/player.c include/kino.h | lib
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -Iinclude $< -L$(LIBDIR) -lkino -Wl,-rpath,'$$ORIGIN/../../$(LIBDIR)' -lm -o $@

demo: examples
	scripts/demo.sh

test: examples
	$(CARGO) test
	scripts/valgrind-example.sh

header:
	$(CARGO) build --quiet
	cp "$$(ls -t target/debug/build/kino-*/out/kino.h | head -n 1)" include/kino.h

check-header:
	scripts/check-header.sh

check-symbols: lib
	scripts/check-symbols.sh $(LIBDIR)/libkino.so

clean:
	$(CARGO) clean
	rm -rf $(BUILD)

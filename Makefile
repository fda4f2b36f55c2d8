# kino: build the library, the C examples, the demo, and run the tests.
#   make demo    build everything, run the C player against a local collector
#   make test    run every test (Rust, C through the ABI, both builds, valgrind);
#                installs missing test tools first (scripts/test-deps.sh)
#   make header  regenerate include/kino.h from the Rust sources

CARGO   ?= cargo
CC      ?= cc
CFLAGS  ?= -std=c99 -O2 -g -Wall -Wextra -Wpedantic -Werror -D_POSIX_C_SOURCE=200809L
LIBDIR  := target/release
BUILD   := examples-c/build

.PHONY: all lib examples demo test test-nohttp header check-header check-symbols clean

all: lib examples

# The shipped libraries are built as cdylib + staticlib only: building the
# rlib in the same rustc run keeps symbols the LTO could otherwise drop, and
# costs the stripped .so about 200 KB (scripts/check-size.sh).
lib:
	$(CARGO) rustc --release --quiet --lib --crate-type cdylib,staticlib
	ln -sf libkino.so $(LIBDIR)/libkino.so.0

examples: lib $(BUILD)/player adapters

$(BUILD)/player: examples-c/player.c include/kino.h | lib
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -Iinclude $< -L$(LIBDIR) -lkino -Wl,-rpath,'$$ORIGIN/../../$(LIBDIR)' -lm -o $@

demo: examples
	scripts/demo.sh

# The tools first: the example players build only where their engines'
# headers are installed.
test:
	scripts/test-deps.sh
	$(MAKE) examples
	$(CARGO) build --lib --quiet    # target/debug/libkino.so, which the C tests link
	$(CARGO) test
	$(MAKE) test-nohttp
	scripts/valgrind-example.sh

# The build without the HTTP transport (batch callback only): its own tests.
test-nohttp:
	$(CARGO) test --no-default-features --target-dir target/nohttp --lib --test callback_only

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

# ---- engine adapters --------------------------------------------------------
# adapters/gstreamer -> libkino-gst.so (+ .a), adapters/mpv -> libkino-mpv.so
# (+ .a), each linked to libkino and its engine, and the example players on
# them, gst-play and mpv-play. Built when pkg-config finds the engine's
# development files (libgstreamer1.0-dev, libmpv-dev); otherwise make says
# it skipped them. libkino itself never links an engine.
# The adapters' SONAME follows libkino's major version.
ADAPTER_SOVERSION := $(firstword $(subst ., ,$(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)))
HAVE_GST := $(shell pkg-config --exists gstreamer-1.0 2>/dev/null && echo yes)
HAVE_MPV := $(shell pkg-config --exists mpv 2>/dev/null && echo yes)
ADAPTER_LIBS :=
ifeq ($(HAVE_GST),yes)
ADAPTER_LIBS += $(LIBDIR)/libkino-gst.so $(LIBDIR)/libkino-gst.a $(BUILD)/gst-play
endif
ifeq ($(HAVE_MPV),yes)
ADAPTER_LIBS += $(LIBDIR)/libkino-mpv.so $(LIBDIR)/libkino-mpv.a $(BUILD)/mpv-play
endif

.PHONY: adapters
adapters: lib $(ADAPTER_LIBS)
ifneq ($(HAVE_GST),yes)
	@echo "make: skipped the GStreamer adapter and gst-play (no gstreamer-1.0 development files: apt-get install libgstreamer1.0-dev)"
endif
ifneq ($(HAVE_MPV),yes)
	@echo "make: skipped the mpv adapter and mpv-play (no mpv development files: apt-get install libmpv-dev)"
endif

# $(call adapter,LIB,SOURCE,PKG): the shared and static library LIB of one
# adapter from SOURCE.c (and SOURCE.h), using the pkg-config package PKG.
define adapter
$(LIBDIR)/$(1).o: $(2).c $(2).h include/kino.h | lib
	$$(CC) $$(CFLAGS) -fPIC -Iinclude -I$(dir $(2)) $$$$(pkg-config --cflags $(3)) -c $$< -o $$@
$(LIBDIR)/$(1).so: $(LIBDIR)/$(1).o | lib
	$$(CC) -shared -Wl,-soname,$(1).so.$(ADAPTER_SOVERSION) $$< -L$(LIBDIR) -lkino $$$$(pkg-config --libs $(3)) -o $$@
	ln -sf $(1).so $(LIBDIR)/$(1).so.$(ADAPTER_SOVERSION)
$(LIBDIR)/$(1).a: $(LIBDIR)/$(1).o
	rm -f $$@ && ar rcs $$@ $$<
endef
$(eval $(call adapter,libkino-gst,adapters/gstreamer/kino_gst,gstreamer-1.0))
$(eval $(call adapter,libkino-mpv,adapters/mpv/kino_mpv,mpv))

$(BUILD)/gst-play: examples-c/gst_play.c examples-c/script.h adapters/gstreamer/kino_gst.h $(LIBDIR)/libkino-gst.so
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -Iinclude -Iadapters/gstreamer $< -L$(LIBDIR) -lkino-gst -lkino \
	  $$(pkg-config --cflags --libs gstreamer-1.0) -Wl,-rpath,'$$ORIGIN/../../$(LIBDIR)' -o $@
$(BUILD)/mpv-play: examples-c/mpv_play.c examples-c/script.h adapters/mpv/kino_mpv.h $(LIBDIR)/libkino-mpv.so
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -Iinclude -Iadapters/mpv $< -L$(LIBDIR) -lkino-mpv -lkino \
	  $$(pkg-config --cflags --libs mpv) -Wl,-rpath,'$$ORIGIN/../../$(LIBDIR)' -o $@

# ---- install ----------------------------------------------------------------
#   make install PREFIX=/usr/local [DESTDIR=/staging] [LIBDIR_NAME=lib/x86_64-linux-gnu]
#   make uninstall PREFIX=...      removes what `make install` put there
#
# Installs include/kino.h and include/kino.hpp, lib/libkino.so.$(VERSION) with
# the symlinks libkino.so.<major> (the SONAME) and libkino.so, lib/libkino.a,
# lib/pkgconfig/kino.pc and the CMake package lib/cmake/kino (imported targets
# kino::kino and kino::kino_static), and the engine adapters that `make
# adapters` could build (libkino-gst, libkino-mpv: header, .so, .a, .pc; it
# says which it skipped); scripts/install.sh does the work.
#
# Why plain make and not cargo-c (`cargo cinstall`): cargo-c is not packaged
# in Debian, so CI would have to build it from crates.io first, which costs
# minutes on a 2-core runner, for what is a short script here. cargo-c would
# also rebuild the library with its own profile; this installs exactly the
# release build that the tests and the symbol check ran against.
PREFIX          ?= /usr/local
DESTDIR         ?=
LIBDIR_NAME     ?= lib
INCLUDEDIR_NAME ?= include
VERSION         := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
# What a program linking libkino.a statically also needs (Linux, glibc):
# the output of `make native-static-libs` (which recompiles the library as a
# staticlib, so the next `make lib` recompiles it too). It goes into kino.pc
# (Libs.private) and kino::kino_static; tests/install.rs links with it.
NATIVE_STATIC_LIBS ?= -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

INSTALL_ENV = PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' LIBDIR_NAME='$(LIBDIR_NAME)' \
	INCLUDEDIR_NAME='$(INCLUDEDIR_NAME)' VERSION='$(VERSION)' \
	NATIVE_STATIC_LIBS='$(NATIVE_STATIC_LIBS)' BUILD_DIR='$(LIBDIR)'

.PHONY: install uninstall native-static-libs

install: lib adapters
	$(INSTALL_ENV) scripts/install.sh install

uninstall:
	$(INSTALL_ENV) scripts/install.sh uninstall

native-static-libs:
	@$(CARGO) rustc --release --quiet --lib --crate-type staticlib -- --print native-static-libs 2>&1 \
	  | sed -n 's/.*native-static-libs: //p'

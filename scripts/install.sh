#!/usr/bin/env bash
# Installs (or uninstalls) kino under $DESTDIR$PREFIX. Run through
# `make install` / `make uninstall`, which build the release library first
# and pass the settings below; see the install section of the Makefile.
#
#   PREFIX              absolute install prefix (default /usr/local)
#   DESTDIR             staging root prepended to every path (default empty)
#   LIBDIR_NAME         library directory under PREFIX (default lib)
#   INCLUDEDIR_NAME     header directory under PREFIX (default include)
#   VERSION             crate version (default: read from Cargo.toml)
#   NATIVE_STATIC_LIBS  system libraries libkino.a needs
#   BUILD_DIR           where cargo put the libraries (default target/release)
#
# Layout (Linux; macOS names in brackets):
#   include/kino.h, include/kino.hpp
#   lib/libkino.so.X.Y.Z          [libkino.X.Y.Z.dylib]  the library
#   lib/libkino.so.X -> ...X.Y.Z  [libkino.X.dylib]      its SONAME / install name
#   lib/libkino.so -> libkino.so.X [libkino.dylib]       for -lkino
#   lib/libkino.a
#   lib/pkgconfig/kino.pc
#   lib/cmake/kino/kinoConfig.cmake, kinoConfigVersion.cmake
# and, when built (make builds each only where pkg-config finds its engine's
# development files; Linux only), the engine adapters:
#   include/kino_gst.h, lib/libkino-gst.so.X.Y.Z (+ .so.X, .so), lib/libkino-gst.a,
#   lib/pkgconfig/kino-gst.pc; the same for mpv (kino_mpv.h, libkino-mpv, kino-mpv.pc)
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-install}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
LIBDIR_NAME=${LIBDIR_NAME:-lib}
INCLUDEDIR_NAME=${INCLUDEDIR_NAME:-include}
VERSION=${VERSION:-$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)}
NATIVE_STATIC_LIBS=${NATIVE_STATIC_LIBS:--lgcc_s -lutil -lrt -lpthread -lm -ldl -lc}
BUILD_DIR=${BUILD_DIR:-target/release}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

case "$PREFIX" in
  /*) ;;
  *) die "PREFIX must be an absolute path (got '$PREFIX')" ;;
esac
case "$LIBDIR_NAME/$INCLUDEDIR_NAME" in
  /* | *..*) die "LIBDIR_NAME and INCLUDEDIR_NAME are relative to PREFIX" ;;
esac
[[ "$VERSION" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+) ]] || die "cannot read the version (got '$VERSION')"
major=${BASH_REMATCH[1]}
minor=${BASH_REMATCH[2]}

if [ "$(uname -s)" = Darwin ]; then
  built=libkino.dylib
  shlib_real=libkino.$VERSION.dylib
  shlib_soname=libkino.$major.dylib
  shlib_link=libkino.dylib
  imported_soname="@rpath/$shlib_soname" # the install_name build.rs sets
else
  built=libkino.so
  shlib_real=libkino.so.$VERSION
  shlib_soname=libkino.so.$major # the SONAME build.rs sets
  shlib_link=libkino.so
  imported_soname=$shlib_soname
fi

prefix_dir=$DESTDIR$PREFIX
libdir=$prefix_dir/$LIBDIR_NAME
includedir=$prefix_dir/$INCLUDEDIR_NAME
pcdir=$libdir/pkgconfig
cmakedir=$libdir/cmake/kino

# The engine adapters: "name header pkg-config-package engine".
adapters=("gst kino_gst.h gstreamer-1.0 GStreamer" "mpv kino_mpv.h mpv libmpv")

if [ "$action" = uninstall ]; then
  for adapter in "${adapters[@]}"; do
    read -r name header _ _ <<<"$adapter"
    rm -f "$includedir/$header" "$libdir/libkino-$name.so.$VERSION" "$libdir/libkino-$name.so.$major" \
      "$libdir/libkino-$name.so" "$libdir/libkino-$name.a" "$pcdir/kino-$name.pc"
  done
  rm -f "$includedir/kino.h" "$includedir/kino.hpp" \
    "$libdir/$shlib_real" "$libdir/$shlib_soname" "$libdir/$shlib_link" "$libdir/libkino.a" \
    "$pcdir/kino.pc" "$cmakedir/kinoConfig.cmake" "$cmakedir/kinoConfigVersion.cmake"
  rmdir "$cmakedir" 2>/dev/null || true
  echo "install.sh: removed kino $VERSION from $prefix_dir"
  exit 0
fi
[ "$action" = install ] || die "unknown action '$action' (install or uninstall)"

for f in "$BUILD_DIR/$built" "$BUILD_DIR/libkino.a" include/kino.h include/kino.hpp; do
  [ -f "$f" ] || die "$f is missing (run 'make lib' first)"
done

# From the CMake package directory up to PREFIX: lib/cmake/kino is three
# levels deep, plus one per extra component of LIBDIR_NAME.
up=../../..
rest=$LIBDIR_NAME
while [[ "$rest" == */* ]]; do
  up=$up/..
  rest=${rest#*/}
done

# sed replacement text: escape \, & and the | delimiter.
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
subst() {
  sed -e "s|@PREFIX@|$(esc "$PREFIX")|g" \
    -e "s|@LIBDIR_NAME@|$(esc "$LIBDIR_NAME")|g" \
    -e "s|@INCLUDEDIR_NAME@|$(esc "$INCLUDEDIR_NAME")|g" \
    -e "s|@VERSION@|$VERSION|g" \
    -e "s|@VERSION_MAJOR@|$major|g" \
    -e "s|@VERSION_MINOR@|$minor|g" \
    -e "s|@NATIVE_STATIC_LIBS@|$(esc "$NATIVE_STATIC_LIBS")|g" \
    -e "s|@NATIVE_STATIC_LIBS_CMAKE@|$(esc "$(echo $NATIVE_STATIC_LIBS | tr ' ' ';')")|g" \
    -e "s|@CMAKE_TO_PREFIX@|$up|g" \
    -e "s|@SHLIB_REAL@|$shlib_real|g" \
    -e "s|@SHLIB_IMPORTED_SONAME@|$(esc "$imported_soname")|g" \
    -e "s|@SIZEOF_VOID_P@|$(($(getconf LONG_BIT) / 8))|g" \
    "$1"
}

install -d "$includedir" "$libdir" "$pcdir" "$cmakedir"
install -m 0644 include/kino.h include/kino.hpp "$includedir/"
install -m 0755 "$BUILD_DIR/$built" "$libdir/$shlib_real"
ln -sfn "$shlib_real" "$libdir/$shlib_soname"
ln -sfn "$shlib_soname" "$libdir/$shlib_link"
install -m 0644 "$BUILD_DIR/libkino.a" "$libdir/libkino.a"
subst pkg/kino.pc.in >"$pcdir/kino.pc"
subst pkg/kinoConfig.cmake.in >"$cmakedir/kinoConfig.cmake"
subst pkg/kinoConfigVersion.cmake.in >"$cmakedir/kinoConfigVersion.cmake"
chmod 0644 "$pcdir/kino.pc" "$cmakedir/kinoConfig.cmake" "$cmakedir/kinoConfigVersion.cmake"
echo "install.sh: installed kino $VERSION into $prefix_dir ($shlib_real, libkino.a, kino.pc, cmake/kino)"

# The adapters `make adapters` built (it builds one only when pkg-config
# finds its engine's development files).
for adapter in "${adapters[@]}"; do
  read -r name header pkg engine <<<"$adapter"
  built_so=$BUILD_DIR/libkino-$name.so
  if [ "$(uname -s)" = Darwin ] || [ ! -f "$built_so" ] || ! pkg-config --exists "$pkg" 2>/dev/null; then
    echo "install.sh: skipped the $engine adapter (no $pkg development files, or not built)"
    continue
  fi
  src=$(find adapters -name "$header" | head -n 1)
  install -m 0644 "$src" "$includedir/$header"
  install -m 0755 "$built_so" "$libdir/libkino-$name.so.$VERSION"
  ln -sfn "libkino-$name.so.$VERSION" "$libdir/libkino-$name.so.$major"
  ln -sfn "libkino-$name.so.$major" "$libdir/libkino-$name.so"
  install -m 0644 "$BUILD_DIR/libkino-$name.a" "$libdir/libkino-$name.a"
  subst "pkg/kino-$name.pc.in" >"$pcdir/kino-$name.pc"
  chmod 0644 "$pcdir/kino-$name.pc"
  echo "install.sh: installed the $engine adapter (libkino-$name.so.$VERSION, libkino-$name.a, kino-$name.pc, $header)"
done

#!/usr/bin/env bash
# kino's performance measurements (docs/PERFORMANCE.md):
#   1. the Rust benchmark: cargo bench --bench emit_latency
#   2. the C benchmark, examples-c/bench.c linked to libkino.so, against no
#      destination, a collector that never answers, and a fast collector
#   3. the system-call check: strace of the paced C runs, cut to the
#      measuring threads' calls (skipped when strace is not installed)
#   4. the library's size, stripped
#
#   scripts/bench.sh [--quick] [--no-rust] [--no-c] [-- ARGS for the Rust bench]
#
# KINO_BENCH_* variables reach the Rust bench (see its --help), e.g.
#   KINO_BENCH_PACED_CALLS=100000 scripts/bench.sh
# Nothing here asserts timings: they depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 rust=1 c=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --no-rust) rust=0 ;;
    --no-c) c=0 ;;
    --) shift; break ;;
    *) echo "usage: scripts/bench.sh [--quick] [--no-rust] [--no-c] [-- ARGS for the Rust bench]" >&2; exit 2 ;;
  esac
  shift
done
rust_args=("$@")
c_args=()
if [ "$quick" = 1 ]; then
  rust_args=(--tight-calls 50000 --paced-calls 2000 --throughput-ms 200 "${rust_args[@]}")
  c_args=(--tight-calls 50000 --paced-calls 2000)
fi

work=$(mktemp -d)
collector_pid=
cleanup() {
  if [ -n "$collector_pid" ]; then kill "$collector_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== machine: $(date -u +%Y-%m-%d), nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"

if [ "$rust" = 1 ]; then
  echo
  echo "== 1. Rust benchmark: cargo bench --bench emit_latency -- ${rust_args[*]}"
  cargo bench --quiet --bench emit_latency -- "${rust_args[@]}"
fi

make --no-print-directory lib    # the shipped build (cdylib + staticlib)

if [ "$c" = 1 ]; then
  echo
  echo "== 2. C benchmark through libkino.so (examples-c/bench.c)"
  mkdir -p examples-c/build
  cc -O2 -std=c99 -Iinclude examples-c/bench.c -Ltarget/release -lkino \
    -Wl,-rpath,"$PWD/target/release" -lpthread -lm -o examples-c/build/bench
  ./examples-c/build/bench --dest none "${c_args[@]}"
  ./examples-c/build/bench --dest hang "${c_args[@]}" | tail -n +3
  cargo build --release --quiet --example collector
  ./target/release/examples/collector --url-file "$work/url" --timeout-s 600 >/dev/null &
  collector_pid=$!
  for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
  ./examples-c/build/bench --dest "$(cat "$work/url")" "${c_args[@]}" | tail -n +3
  kill "$collector_pid" 2>/dev/null || true
  wait "$collector_pid" 2>/dev/null || true
  collector_pid=

  echo
  echo "== 3. System calls on the calling threads (strace, paced C runs)"
  if command -v strace >/dev/null; then
    calls=2000
    strace -f -o "$work/trace" ./examples-c/build/bench --dest none --mode paced \
      --paced-calls "$calls" --markers >/dev/null 2>"$work/stderr"
    # Each measuring thread writes "kino-bench: begin/end" to stderr around
    # its measured calls; count what else that thread asked of the kernel
    # in between, apart from its pacing sleep.
    awk -v calls="$calls" '
      /kino-bench: begin/ { on[$1] = 1; threads++; next }
      /kino-bench: end/   { on[$1] = 0; next }
      /resumed>/ || $2 ~ /^(\+\+\+|---)$/ { next }
      on[$1] {
        name = $2; sub(/\(.*/, "", name)
        if (name == "clock_nanosleep" || name == "nanosleep") { sleeps++ } else { other[name]++; n++ }
      }
      END {
        printf "  %d measuring threads, %d pacing sleeps, %d other system calls during the measured calls%s\n",
          threads, sleeps, n, (n == 0 ? ": no system call (target met)" : ": target MISSED")
        for (k in other) printf "    %s: %d\n", k, other[k]
      }' "$work/trace"
    strace -f -c -o "$work/summary" ./examples-c/build/bench --dest none --mode paced \
      --threads 1 --paced-calls "$calls" >/dev/null 2>&1
    printf "  whole process, 2 paced runs of %d calls (strace -f -c): futex calls %s, getrandom %s (worker: one per event record)\n" \
      "$calls" "$(awk '$NF == "futex" { print $4 }' "$work/summary")" \
      "$(awk '$NF == "getrandom" { print $4 }' "$work/summary")"
  else
    echo "  strace is not installed: skipped (apt-get install strace)"
  fi
fi

echo
echo "== 4. Library size (make lib; strip a copy)"
cp target/release/libkino.so "$work/libkino.so"
strip "$work/libkino.so"
cp target/release/libkino.a "$work/libkino.a"
strip --strip-debug "$work/libkino.a"
size_of() { stat -c %s "$1"; }
printf "  libkino.so  %10d bytes   stripped %10d bytes\n" \
  "$(size_of target/release/libkino.so)" "$(size_of "$work/libkino.so")"
printf "  libkino.a   %10d bytes   --strip-debug %10d bytes\n" \
  "$(size_of target/release/libkino.a)" "$(size_of "$work/libkino.a")"

#!/usr/bin/env bash
# Builds every fuzz target (fuzz/, cargo fuzz + libFuzzer) and runs each
# for FUZZ_SECONDS (default 20) from its committed seeds; fails if any
# target crashes or an oracle fails. See docs/FUZZING.md.
#
#   scripts/fuzz.sh                     # every target, 20 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh url_redaction spool_file
#
# New inputs go to a scratch corpus (fuzz/corpus/<target> is used and kept
# when FUZZ_KEEP_CORPUS=1); a failing input is written to
# fuzz/artifacts/<target>/ and the reproduction command is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
# cargo fuzz needs nightly flags; the stable toolchain allows them so.
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
unset KINO_BEACON_URL

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

start=$(date +%s)
(cd fuzz && cargo fuzz build)
built=$(date +%s)
echo "fuzz: built in $((built - start)) s"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi

failed=()
for target in "${targets[@]}"; do
    if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
        mkdir -p "fuzz/corpus/$target"
        corpus=$(realpath "fuzz/corpus/$target")
    else
        corpus=$(mktemp -d)
    fi
    echo "fuzz: $target for $seconds s"
    log=$(mktemp)
    # -timeout: one input taking 30 s is a hang; -rss_limit_mb: a leak.
    if (cd fuzz && cargo fuzz run "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1) \
        >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
    else
        # The oracle's message (or the sanitizer's), then the input.
        grep -E -A4 'panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|ALARM:|out-of-memory' \
            "$log" | head -n 30 || true
        grep -E -A40 '^Failing input:' "$log" | head -n 45 || true
        tail -n 5 "$log"
        failed+=("$target")
        echo "fuzz: $target FAILED; reproduce with:"
        echo "  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target artifacts/$target/<crash file>)"
    fi
    rm -f "$log"
    [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$corpus"
done

echo "fuzz: ${#targets[@]} targets in $(($(date +%s) - start)) s (build $((built - start)) s)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi

#!/usr/bin/env bash
# Builds every fuzz target once (cargo-fuzz: libFuzzer, AddressSanitizer, debug assertions),
# then runs each in turn for SECONDS (default 30) on a copy of its committed corpus, and fails
# when any target crashed, timed out or ran out of memory. Prints, per target, the inputs run,
# the time, the corpus size and the coverage reached.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Environment: FUZZ_NO_BUILD=1 (run the last build), FUZZ_TARGET_DIR (default ~/.cache/yubin-fuzz-target), FUZZ_WORK (the corpora
# that grow and the crash artifacts; default $FUZZ_TARGET_DIR/fuzz-work), FUZZ_JOBS (cargo -j,
# default 1), FUZZ_TOOLCHAIN (default nightly when rustup has it, else the default toolchain
# with RUSTC_BOOTSTRAP=1, which cargo-fuzz's -Z flags need).
#
# A crash leaves its input in $FUZZ_WORK/artifacts/<target>/; reproduce it with
#   cargo +nightly fuzz run <target> <file>
# (see docs/architecture.md, Tests).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
shift || true
export CARGO_TERM_COLOR=never
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/yubin-fuzz-target}"
work="${FUZZ_WORK:-$target_dir/fuzz-work}"
jobs="${FUZZ_JOBS:-1}"
cargo_fuzz_version=0.13.2

# target  max_len  rss_limit_mb  dictionary
targets=(
    "smtp_parse     4096     2048  smtp"
    "smtp_session   400000   3072  smtp"
    "imap_parse     131072   2048  imap"
    "imap_session   131072   3072  imap"
    "pop3_session   16384    2048  pop3"
    "http_webhook   1100000  3072  http"
    "mime           65536    2048  mime"
    "config_kdl     65536    2048  kdl"
    "imap_list      65536    2048  list"
    "backup         65536    2048  -"
)

if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
    toolchain="+$FUZZ_TOOLCHAIN"
elif rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain="+nightly"
else
    toolchain=""
    export RUSTC_BOOTSTRAP=1
    echo "fuzz: no nightly toolchain; using $(rustc --version) with RUSTC_BOOTSTRAP=1"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $cargo_fuzz_version"
    cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

echo "== fuzz: build ($(cargo $toolchain --version))"
build_start=$SECONDS
if [ "${FUZZ_NO_BUILD:-0}" = 1 ]; then
    echo "fuzz: FUZZ_NO_BUILD=1: running the last build"
else
    # A fixed revision for `yubin --version`: its build script would otherwise rebuild the
    # crate whenever the work tree's state changes (a corpus file added, say).
    YUBIN_GIT_REV=fuzz CARGO_BUILD_JOBS="$jobs" \
        cargo $toolchain fuzz build --debug-assertions --target-dir "$target_dir"
    echo "fuzz: built in $((SECONDS - build_start)) s"
fi
bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"

# SQLite's C code is compiled into the binary twice over (ASan sees one global defined in two
# modules: a false one-definition-rule report at start-up).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"

wanted=("$@")
failed=()
summary=()
for row in "${targets[@]}"; do
    read -r name max_len rss dict <<<"$row"
    if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then
        continue
    fi
    corpus="$work/corpus/$name"
    artifacts="$work/artifacts/$name"
    mkdir -p "$corpus" "$artifacts"
    # The servers' data folders: tmpfs when there is one (deliveries fsync).
    scratch_root="${TMPDIR:-/tmp}"
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        scratch_root=/dev/shm
    fi
    scratch="$(mktemp -d "$scratch_root/yubin-fuzz-scratch.XXXXXX")"
    args=(
        "-max_total_time=$seconds" "-timeout=10" "-rss_limit_mb=$rss" "-max_len=$max_len"
        "-detect_leaks=0" "-print_final_stats=1" "-artifact_prefix=$artifacts/"
    )
    if [ "$dict" != "-" ]; then
        args+=("-dict=fuzz/dict/$dict.dict")
    fi
    echo "== fuzz: $name for ${seconds} s (max_len $max_len, rss ${rss} MB)"
    log="$work/$name.log"
    start=$SECONDS
    status=0
    YUBIN_FUZZ_TMP="$scratch" "$bin_dir/$name" "${args[@]}" "$corpus" "fuzz/corpus/$name" >"$log" 2>&1 ||
        status=$?
    elapsed=$((SECONDS - start))
    rm -rf "$scratch"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rss_peak="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")"
    files="$(find "$corpus" -type f | wc -l)"
    line="$(printf '%-13s %10s execs %5s s  corpus %5s files  cov %6s  peak %5s MB' \
        "$name" "${execs:-?}" "$elapsed" "$files" "${cov:-?}" "${rss_peak:-?}")"
    if [ "$status" -ne 0 ]; then
        line="$line  FAILED (exit $status)"
        failed+=("$name")
        grep -E '^(==[0-9]+==ERROR|SUMMARY|thread .* panicked|.*panicked at|artifact_prefix|Test unit written|ALARM|==[0-9]+== ERROR: libFuzzer)' \
            "$log" | head -20 || true
        echo "fuzz: full log: $log"
    fi
    echo "$line"
    summary+=("$line")
done

echo "== fuzz: summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $work/artifacts/)"
    exit 1
fi
echo "fuzz: no crash, timeout or out-of-memory in ${#summary[@]} targets"

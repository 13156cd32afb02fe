#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/*) with -sanitize=fuzzer,address and runs each for FUZZ_SECONDS (default 60)
# over its corpus kept in the repo (Fuzz/corpus/TARGET, read-only here: new inputs go to a scratch folder;
# FUZZ_MERGE=1 adds those that raised coverage to the repo's corpus). Prints how many inputs each target ran;
# exits non-zero on the first crash, leak or hang (>10 s for one input), leaving the input in
# .build-fuzz/artifacts/ to be fixed and turned into a unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGETS=(FuzzConfigLoader FuzzTraceHeaders FuzzResponseHead FuzzHeaderRules)
export OUTRIGGER_FUZZ=1
# -sanitize=fuzzer,address, spelled out: SwiftPM renames each executable's `main`, which clashes with libFuzzer's
# own, so the targets get libFuzzer's coverage instrumentation and its main-less runtime, and call
# LLVMFuzzerRunDriver themselves (Fuzz/*/main.swift).
RESOURCES=$(swiftc -print-target-info | python3 -c 'import json, sys; print(json.load(sys.stdin)["paths"]["runtimeResourcePath"])')
RUNTIME="$RESOURCES/clang/lib/linux"
test -f "$RUNTIME/libclang_rt.fuzzer_no_main-x86_64.a" || { echo "fuzz: no libFuzzer runtime in $RUNTIME" >&2; exit 1; }
BUILD=(swift build --build-path .build-fuzz -Xswiftc -sanitize=address
    -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table
    -Xlinker "$RUNTIME/libclang_rt.fuzzer_no_main-x86_64.a" -Xlinker -lstdc++)
mkdir -p .build-fuzz
for target in "${TARGETS[@]}"; do
    "${BUILD[@]}" --product "$target" >.build-fuzz/build.log 2>&1 || { grep -v "Cannot export" .build-fuzz/build.log >&2; exit 1; }
done

BIN=$("${BUILD[@]}" --show-bin-path)
ARTIFACTS=.build-fuzz/artifacts
mkdir -p "$ARTIFACTS"
# libFuzzer reports the crash; Swift's own backtracer would also start and keep the output pipe open.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
for target in "${TARGETS[@]}"; do
    test -x "$BIN/$target" || { echo "fuzz: $target did not build" >&2; exit 1; }
    scratch=$(mktemp -d)
    log="$ARTIFACTS/$target.log"
    if ! "$BIN/$target" "$scratch" "Fuzz/corpus/$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
        -rss_limit_mb=2048 -max_len=4096 -artifact_prefix="$ARTIFACTS/$target-" -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz: $target FAILED; the input is in $ARTIFACTS/" >&2
        rm -rf "$scratch"
        exit 1
    fi
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo "?")
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        # Keep what the run found: only inputs that add coverage join the repo's corpus.
        "$BIN/$target" -merge=1 "Fuzz/corpus/$target" "$scratch" >>"$log" 2>&1
    fi
    corpus=$(find "$scratch" -type f | wc -l)
    echo "fuzz: $target ran $runs inputs in ${FUZZ_SECONDS}s, no crash, leak or hang ($corpus new corpus entries)"
    rm -rf "$scratch"
done

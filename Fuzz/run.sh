#!/usr/bin/env bash
# Builds the libFuzzer + AddressSanitizer targets and runs each for a bounded time.
#
#   Fuzz/run.sh [TARGET] [SECONDS] [extra libFuzzer flags…]
#
# TARGET: event-decoder (EventDecoder, from the MuleCore sources), rule-loader (RuleLoader: the
# hostile-YAML scan, Yams and RuleFileReader, from the MuleRules, MuleCore, Yams and libyaml
# sources) or all (default). SECONDS per target, default 30. A leading number is SECONDS for all
# targets (the old `Fuzz/run.sh 30` form). Exit status is non-zero when a target crashes, leaks or
# fails an invariant (libFuzzer writes the input to $FUZZ_OUT/artifacts/).
#
# Output (binaries, the growing corpora, crash files) goes to $FUZZ_OUT (default
# /tmp/mulestream-fuzz), never into the repo. Each run starts from the checked-in seeds
# (Fuzz/seeds/TARGET) plus whatever earlier runs left in $FUZZ_OUT/corpus/TARGET.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
# MuleCore imports the header-only C module CMulePrefetch (its module map is in its include dir).
prefetch="$root/Sources/CMulePrefetch/include"
target=all
if [[ $# -gt 0 && ! "$1" =~ ^[0-9]+$ ]]; then target="$1"; shift; fi
seconds="${1:-30}"
shift || true
out="${FUZZ_OUT:-/tmp/mulestream-fuzz}"
mkdir -p "$out/artifacts"

# swiftc and clang from the same toolchain (the sanitizer runtimes must match).
swiftc_bin="$(command -v swiftc)"
clang_bin="$(dirname "$(readlink -f "$swiftc_bin")")/clang"
[[ -x "$clang_bin" ]] || clang_bin="$(command -v clang)"

# Runs a build step quietly; shows its log and fails when it fails. gold's "Cannot export local
# symbol '__asan_*'" warnings are harmless and filtered out.
step() {
    local log="$out/build-$BASHPID.log"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        exit 1
    fi
    grep -v "Cannot export local symbol" "$log" >&2 || true
}

# True when $1 exists and nothing under the other paths is newer (repeated runs skip the build).
up_to_date() {
    local bin="$1"
    shift
    [[ -x "$bin" ]] && [[ -z "$(find "$@" -newer "$bin" -print -quit 2>/dev/null)" ]]
}

build_event_decoder() {
    up_to_date "$out/event-decoder-fuzz" "$here/EventDecoderFuzz.swift" "$root/Sources/MuleCore" && return
    # One module with the MuleCore sources, so the harness can check internal invariants too.
    step "$swiftc_bin" -sanitize=fuzzer,address -parse-as-library -O -g -I "$prefetch" \
        -module-name MuleCore -package-name MuleStream \
        "$here/EventDecoderFuzz.swift" "$root"/Sources/MuleCore/*.swift \
        -o "$out/event-decoder-fuzz"
}

build_rule_loader() {
    # Yams (and its vendored libyaml, CYaml) from the package's own checkout.
    local yams="$root/.build/checkouts/Yams/Sources"
    if [[ ! -d "$yams" ]]; then (cd "$root" && swift package resolve >/dev/null); fi
    up_to_date "$out/rule-loader-fuzz" "$here/RuleLoaderFuzz.swift" "$root/Sources/MuleCore" "$root/Sources/MuleRules" "$yams" && return
    local obj="$out/rule-loader-objects"
    rm -rf "$obj" && mkdir -p "$obj"
    local c
    for c in "$yams"/CYaml/src/*.c; do
        step "$clang_bin" -c -O1 -g -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_STATIC \
            -I "$yams/CYaml/include" "$c" -o "$obj/cyaml-$(basename "$c" .c).o"
    done
    # `-package-name MuleStream`: MuleCore and MuleRules share `package` declarations, as in SwiftPM.
    # Library modules: instrumented objects plus a .swiftmodule each (libFuzzer's main comes at link).
    local common=(-sanitize=fuzzer,address -parse-as-library -O -g -wmo -c -I "$obj" -I "$prefetch" -I "$yams/CYaml/include" -Xcc -DYAML_DECLARE_STATIC)
    # SWIFT_PACKAGE: Yams imports CYaml only when built as a package (else it expects one module).
    step "$swiftc_bin" "${common[@]}" -DSWIFT_PACKAGE -module-name Yams -emit-module -emit-module-path "$obj/Yams.swiftmodule" \
        "$yams"/Yams/*.swift -o "$obj/yams.o"
    step "$swiftc_bin" "${common[@]}" -module-name MuleCore -package-name MuleStream -emit-module -emit-module-path "$obj/MuleCore.swiftmodule" \
        "$root"/Sources/MuleCore/*.swift -o "$obj/mulecore.o"
    # The harness joins the MuleRules module, so it can reach the scan and the reader directly.
    step "$swiftc_bin" -sanitize=fuzzer,address -parse-as-library -O -g -I "$obj" -I "$prefetch" -I "$yams/CYaml/include" -Xcc -DYAML_DECLARE_STATIC \
        -module-name MuleRules -package-name MuleStream "$here/RuleLoaderFuzz.swift" "$root"/Sources/MuleRules/*.swift "$obj"/*.o \
        -o "$out/rule-loader-fuzz"
}

# Runs one target for $seconds from its seeds; prints libFuzzer's final stats.
run_target() {
    local name="$1" dict="$2" max_len="$3"
    local corpus="$out/corpus/$name"
    mkdir -p "$corpus"
    cp -n "$here/seeds/$name"/* "$corpus/" 2>/dev/null || true
    local log="$out/$name.log"
    echo "fuzz: $name for ${seconds}s (corpus $corpus, log $log)" >&2
    # libFuzzer's progress lines go to the log; a failure shows its report, success the stats.
    if ! (cd "$out" && "$out/$name-fuzz" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/artifacts/$name-" -dict="$dict" -print_final_stats=1 "${extra[@]}" "$corpus") >"$log" 2>&1; then
        tail -n 80 "$log" >&2
        echo "fuzz: $name FAILED (input saved under $out/artifacts/)" >&2
        exit 1
    fi
    grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))' "$log" | sed "s/^/fuzz: $name: /" >&2
}

extra=("$@")
case "$target" in
    event-decoder | rule-loader | all) ;;
    *) echo "unknown fuzz target '$target' (event-decoder, rule-loader, all)" >&2; exit 2 ;;
esac
# Both builds at once (each is mostly one single-threaded swiftc), then the runs one after another.
pids=()
if [[ "$target" == event-decoder || "$target" == all ]]; then build_event_decoder & pids+=($!); fi
if [[ "$target" == rule-loader || "$target" == all ]]; then build_rule_loader & pids+=($!); fi
for pid in "${pids[@]}"; do wait "$pid"; done
if [[ "$target" == event-decoder || "$target" == all ]]; then run_target event-decoder "$here/event.dict" 512; fi
if [[ "$target" == rule-loader || "$target" == all ]]; then run_target rule-loader "$here/rules.dict" 4096; fi

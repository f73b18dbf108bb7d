#!/usr/bin/env bash
# Side-by-side comparison (see BENCHMARKS.md, "Side by side"): one simulated stream, one
# receive-and-forward rule (compare/pass-through.yaml), run by MuleStream (`mulestream
# backtest`), by a plain single-threaded Python implementation with dicts, and by Bytewax (a
# Python stream-processing framework, from PyPI, in a venv this script creates). Prints events/s,
# peak RSS and ratios, and fails unless all three raise exactly the same alerts.
#
#   Benchmarks/compare.sh [EVENTS=1000000] [ACCOUNTS=EVENTS/10]
#
# Environment: MULESTREAM=path to use an already built binary (default: build release).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
accounts=${2:-$((events / 10))}
if [ -z "${MULESTREAM:-}" ]; then
    swift build -c release --product mulestream >&2
    MULESTREAM=.build/release/mulestream
fi
venv=Benchmarks/.build/compare-venv
if ! "$venv/bin/python" -c 'import bytewax' 2>/dev/null; then
    echo "compare: creating $venv with bytewax 0.21.1 (PyPI)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'bytewax==0.21.1' >&2
fi
exec python3 Benchmarks/compare/compare.py --mulestream "$MULESTREAM" --bytewax-python "$venv/bin/python" \
    --events "$events" --accounts "$accounts" --workdir Benchmarks/.build/compare

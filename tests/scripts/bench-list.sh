#!/usr/bin/env bash
# Runs the problem-list benchmark against a fresh server over an existing database and
# prints bench's latencies plus the CPU time per request of the server and of the load
# generator over 10 s of steady load (user + system time from /proc/PID/stat).
#
#   tests/scripts/bench-list.sh RATE [SECONDS]
#
# Build first: cargo build --release -p beatline-server --bin beatline -p beatline-tests --bin bench
# Database: BEATLINE_DATABASE_URL (default sqlite://bench.db), loaded with
#   beatline seed-demo && beatline seed-problems --count 1000000
set -euo pipefail
rate="${1:?usage: bench-list.sh RATE [SECONDS]}"
seconds="${2:-20}"
bin="${BIN:-target/release}"
port="${PORT:-18080}"
export BEATLINE_DATABASE_URL="${BEATLINE_DATABASE_URL:-sqlite://bench.db}"
export BEATLINE_JWT_SECRET="${BEATLINE_JWT_SECRET:-bench-secret-bench-secret-bench-secret-0123}"
(( seconds >= 20 )) || { echo "SECONDS must be 20 or more (10 s are sampled after 8 s)"; exit 1; }

"$bin/beatline" serve --listen "127.0.0.1:$port" > bench-server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break
  sleep 0.2
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
"$bin/bench" --url "http://127.0.0.1:$port" --list-rate "$rate" --report-rate 1 \
  --seconds "$seconds" > bench-client.log &
client=$!
# bench logs in and warms up first; sample 10 s from the middle of the list phase.
sleep 8
s0=$(ticks "$server"); c0=$(ticks "$client")
sleep 10
s1=$(ticks "$server"); c1=$(ticks "$client")
wait "$client"
grep -v reportProblem bench-client.log
hz=$(getconf CLK_TCK)
awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v r="$rate" -v hz="$hz" 'BEGIN {
  printf "CPU per list request over 10 s: server %.2f ms, load generator %.2f ms\n",
    s / hz * 1000 / (10 * r), c / hz * 1000 / (10 * r) }'

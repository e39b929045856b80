#!/usr/bin/env bash
# The server under load: wrk opens 1,000 connections to one topic feed for 30 s, three rounds,
# and paperboy's resident memory is read before, right after each round, and 5 s after, when
# the connections have closed. Passes (exit 0) when wrk saw no socket errors, no timeouts and
# no non-2xx responses, and the last round left memory within 10% of where round 2 left it.
# Round 1 grows the allocator's arenas and the feed cache to their working size; from then on
# a leak would show as growth round after round (ROUNDS=6 makes a longer trend).
#
#   bash benches/load.sh                     # needs wrk and curl (apt-get install wrk curl)
#   CONNECTIONS=2000 DURATION=60s ROUNDS=6 bash benches/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-1000}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install wrk curl"; exit 1; }
done
# wrk and the server each need a descriptor per connection.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((CONNECTIONS + 256)) ]; then
  echo "the open-file limit $(ulimit -n) is too low for $CONNECTIONS connections"; exit 1
fi

cargo build --release --quiet
tmp=$(mktemp -d)
PAPERBOY_PID=
cleanup() {
  [ -n "$PAPERBOY_PID" ] && kill "$PAPERBOY_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

source benches/support/offline_serve.sh
port=$(free_port)
start_offline_paperboy "$tmp" "$port"
pid=$PAPERBOY_PID
url="http://127.0.0.1:$port/feeds/everything.atom"
curl -fs -o /dev/null "$url"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }

before=$(rss_kib)
echo "paperboy (pid $pid): $(mib "$before") resident, $(threads) threads, $(fds) descriptors before load"
failed=0
declare -a after_round settled
for round in $(seq "$ROUNDS"); do
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency "$url" > "$tmp/wrk$round.txt"
  after_round[$round]=$(rss_kib)
  sleep 5  # wrk has closed its connections; the server drops them
  settled[$round]=$(rss_kib)
  requests=$(awk '/requests in/ { print $1 }' "$tmp/wrk$round.txt")
  rate=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk$round.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk$round.txt")
  errors=$(grep -E "Socket errors|Non-2xx" "$tmp/wrk$round.txt" || true)
  echo "round $round: $requests requests, $rate req/s, p99 $p99; resident $(mib "${after_round[$round]}") at the end, $(mib "${settled[$round]}") 5 s later; $(fds) descriptors open"
  if [ -n "$errors" ]; then
    echo "  wrk reported errors: $errors"
    failed=1
  fi
done
curl -fs "http://127.0.0.1:$port/metrics" | grep '^paperboy_feed' | sed 's/^/  /'
if [ "$ROUNDS" -ge 3 ]; then
  last=${settled[$ROUNDS]}
  growth=$(awk -v a="${settled[2]}" -v b="$last" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
  echo "memory after round $ROUNDS vs after round 2: ${growth}%"
  if awk -v a="${settled[2]}" -v b="$last" 'BEGIN { exit !(b > a * 1.10) }'; then
    echo "memory grew by more than 10% after round 2"
    failed=1
  fi
fi
exit $failed

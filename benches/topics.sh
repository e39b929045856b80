#!/usr/bin/env bash
# A department's shared instance: the same papers ingested with 10, 100, 1,000 and 10,000
# topics (generated from the real abstracts' vocabulary: words, prefixes, phrases, fields,
# AND/OR/ANDNOT, categories), each into an empty store. The reference is the same run with 10
# topics. Prints per topic count the ingest time and its ratio to 10 topics, peak resident
# memory; then, with the largest count: `check`, `serve` until it
# answers, a SIGHUP that changes one topic until its re-tagging is done, and serve's resident
# memory (peak and now) after every topic's feed was asked for in all three formats.
# The goals: 10,000 topics at most 2 x the time of 10, within 512 MiB; start-up and reload
# under 2 s.
#
#   bash benches/topics.sh
#   PAPERS=10000 COUNTS="10 10000" bash benches/topics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PAPERS=${PAPERS:-50000}
COUNTS=${COUNTS:-"10 100 1000 10000"}
CACHE_MIB=${CACHE_MIB:-64}

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install time"; exit 1; }
cargo build --release --quiet --bin paperboy --example ingest_bench
paperboy=$PWD/target/release/paperboy
tool=$PWD/target/release/examples/ingest_bench
work=$(mktemp -d "${TMPDIR:-/tmp}/paperboy-topics.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
. benches/support/measure.sh

write_config() { # DIR TOPICS
  {
    printf '[store]\npath = "%s/store.sled"\ncache_mib = %s\n\n' "$1" "$CACHE_MIB"
    for f in "$work"/feeds/*.atom.xml; do
      printf '[[sources]]\nid = "%s"\nkind = "arxiv-api"\nurl = "file://%s"\n\n' \
        "$(basename "$f" .atom.xml)" "$f"
    done
    "$tool" topics "$2" "$(( ($2 + 19) / 20 ))"
  } > "$1/paperboy.toml"
}

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

"$tool" generate "$work/feeds" "$PAPERS" 5000 > /dev/null
echo "paperboy $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $PAPERS papers, cache_mib=$CACHE_MIB"
printf '%-8s %10s %8s %12s\n' topics "ingest s" "x 10" "peak"
base=""
last=""
for t in $COUNTS; do
  dir=$work/t$t
  mkdir -p "$dir"
  write_config "$dir" "$t"
  timed_ingest "$dir/paperboy.toml" "$dir/ingest.log"
  [ -n "$base" ] || base=$SECONDS_TAKEN
  printf '%-8s %10s %8s %12s\n' "$t" "$SECONDS_TAKEN" "$(ratio "$SECONDS_TAKEN" "$base")" \
    "$(mib "$PEAK_KIB")"
  [ -z "$last" ] || rm -rf "$last"
  last=$dir
done

# Start-up and reload with the largest count, on the store it ingested.
dir=$last
t=${COUNTS##* }
started=$(now_ms)
"$paperboy" --config "$dir/paperboy.toml" check > /dev/null
echo "check, $t topics: $(( $(now_ms) - started )) ms"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Sources polled after start-up a week from now. serve still polls every source once as it
# starts (it does not wait for the stored next poll), so its memory before the feeds are
# asked for includes re-reading every paper, unchanged.
sed -i 's/^kind = "arxiv-api"/kind = "arxiv-api"\nevery = "7d"/' "$dir/paperboy.toml"
started=$(now_ms)
RUST_LOG=info "$paperboy" --config "$dir/paperboy.toml" serve --listen "127.0.0.1:$port" \
  > /dev/null 2> "$dir/serve.log" &
serve=$!
trap 'kill $serve 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.01; done
echo "serve until it answers, $t topics: $(( $(now_ms) - started )) ms"
sed -i '0,/^query = /s/^query = .*/query = '"'"'graph* AND neural'"'"'/' "$dir/paperboy.toml"
started=$(now_ms)
kill -HUP $serve
until grep -q "after the reload" "$dir/serve.log"; do sleep 0.01; done
echo "SIGHUP changing one topic, until re-tagged: $(( $(now_ms) - started )) ms ($(grep -o 'after the reload: .*' "$dir/serve.log" | head -1))"
# Every feed in every format, 8 at a time: the render cache stays within server.cache_mib.
before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$serve/status")
started=$(now_ms)
for i in $(seq 0 $((t - 1))); do
  for f in atom rss json; do echo "http://127.0.0.1:$port/feeds/topic-$i.$f"; done
done | xargs -P 8 -n 50 curl -sf -H 'Accept-Encoding: gzip' > /dev/null
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$serve/status")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$serve/status")
echo "serve after $((3 * t)) feeds ($(( ($(now_ms) - started) / 1000 )) s): resident $(mib "$rss") (before them $(mib "$before")), peak $(mib "$hwm")"
kill $serve
wait $serve || true

#!/usr/bin/env bash
# Ingest at the size of all of arXiv, against its reference in the same run: feed-rs alone
# parsing the same files on one thread. For each size it generates arXiv API Atom feeds of
# papers made from the real abstracts in ../shared/fixtures/sources (5,000 entries a file, each
# paper with its own arXiv id), then prints:
#   - feed-rs's parse rate, paperboy ingest's rate into an empty store, and the ratio;
#   - paperboy's own reader (the arxiv-api kind) of the same files alone, one thread, for the
#     share of an ingest that is parsing;
#   - the same for a second ingest of the same files (every paper unchanged);
#   - peak resident memory of each ingest (/usr/bin/time -v) and the store and index on disk,
#     in bytes per paper;
#   - the same after `paperboy compact` (the store rewritten with only its live records, as a
#     first ingest does at its end unless `auto_compact = false`: the ingests above run
#     without it, so that each is timed alone), and how long that took and its peak memory;
#   - at the growth size, the store after the same papers came back with a new version ten
#     times, against a fresh store of the last version, both as ingested and compacted.
#
#   bash benches/ingest.sh                          # 100,000 and 1,000,000 papers
#   SIZES="100000" GROWTH=100000 bash benches/ingest.sh
#   CACHE_MIB=64 KEEP=1 bash benches/ingest.sh      # keep the work folder
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"100000 1000000"}
GROWTH=${GROWTH-100000}   # the size the ten-versions growth runs at ("" to skip)
CACHE_MIB=${CACHE_MIB:-64}
PER_FILE=${PER_FILE:-5000}

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install time"; exit 1; }
cargo build --release --quiet --bin paperboy --example ingest_bench
paperboy=$PWD/target/release/paperboy
tool=$PWD/target/release/examples/ingest_bench
work=$(mktemp -d "${TMPDIR:-/tmp}/paperboy-ingest.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

# The topics of the offline config: tagging is part of ingest.
topics=$(awk '/^\[\[topics\]\]/ { on = 1 } on' config/offline.toml)

write_config() { # DIR FEEDS STORE AUTO_COMPACT
  {
    printf '[store]\npath = "%s"\ncache_mib = %s\nauto_compact = %s\n\n' "$3" "$CACHE_MIB" "$4"
    for f in "$2"/*.atom.xml; do
      printf '[[sources]]\nid = "%s"\nkind = "arxiv-api"\nurl = "file://%s"\n\n' \
        "$(basename "$f" .atom.xml)" "$f"
    done
    printf '%s\n' "$topics"
  } > "$1/paperboy.toml"
}

# timed_ingest, bytes_of, mib, rate, ratio.
. benches/support/measure.sh

echo "paperboy $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, cache_mib=$CACHE_MIB"
for n in $SIZES; do
  dir=$work/$n
  mkdir -p "$dir"
  "$tool" generate "$dir/feeds" "$n" "$PER_FILE" > /dev/null
  feed_bytes=$(bytes_of "$dir/feeds")
  read -r parsed _ _ _ parse_s _ parse_rate _ < <("$tool" parse "$dir"/feeds/*.atom.xml)
  [ "$parsed" = "$n" ] || { echo "feed-rs read $parsed entries of $n"; exit 1; }
  # paperboy's own reader of the same files, alone: how much of an ingest is parsing.
  read -r read_n _ _ _ read_s _ read_rate _ < <("$tool" read "$dir"/feeds/*.atom.xml)
  [ "$read_n" = "$n" ] || { echo "paperboy read $read_n entries of $n"; exit 1; }
  # The ingests timed alone: the compaction a first ingest ends with is timed on its own.
  write_config "$dir" "$dir/feeds" "$dir/store.sled" false

  timed_ingest "$dir/paperboy.toml" "$dir/first.log"
  first_s=$SECONDS_TAKEN first_kib=$PEAK_KIB first_anon=$ANON_KIB
  store=$(bytes_of "$dir/store.sled") index=$(bytes_of "$dir/store.sled.index")
  timed_ingest "$dir/paperboy.toml" "$dir/again.log"
  again_s=$SECONDS_TAKEN again_kib=$PEAK_KIB again_anon=$ANON_KIB

  first_rate=$(rate "$n" "$first_s") again_rate=$(rate "$n" "$again_s")
  echo
  echo "== $n papers, $((feed_bytes / 1048576)) MiB of Atom in $(ls "$dir/feeds" | wc -l) files"
  printf '%-40s %10s papers/s  %8s s\n' "feed-rs parse, one thread (reference)" "$parse_rate" "$parse_s"
  printf '%-40s %10s papers/s  %8s s  %5s x feed-rs\n' "paperboy's reader alone, one thread" \
    "$read_rate" "$read_s" "$(ratio "$read_rate" "$parse_rate")"
  printf '%-40s %10s papers/s  %8s s  %5s x feed-rs  peak %s (anonymous %s)\n' \
    "paperboy ingest, empty store" "$first_rate" "$first_s" "$(ratio "$first_rate" "$parse_rate")" \
    "$(mib "$first_kib")" "$(mib "$first_anon")"
  printf '%-40s %10s papers/s  %8s s  %5s x feed-rs  peak %s (anonymous %s)\n' \
    "paperboy ingest, every paper unchanged" "$again_rate" "$again_s" \
    "$(ratio "$again_rate" "$parse_rate")" "$(mib "$again_kib")" "$(mib "$again_anon")"
  printf '%-40s %10s bytes/paper (store %s, index %s)\n' "on disk, store + index" \
    "$(( (store + index) / n ))" "$(( store / n ))" "$(( index / n ))"
  timed_compact "$dir/paperboy.toml" "$dir/compact.log"
  store=$(bytes_of "$dir/store.sled")
  printf '%-40s %10s bytes/paper (store %s, index %s)  compact %s s, peak %s\n' \
    "on disk after paperboy compact" "$(( (store + index) / n ))" "$(( store / n ))" \
    "$(( index / n ))" "$SECONDS_TAKEN" "$(mib "$PEAK_KIB")"

  if [ "$n" = "$GROWTH" ]; then
    # New versions as a user's ingests take them: compacting when they outgrow the store.
    write_config "$dir" "$dir/feeds" "$dir/store.sled" true
    for v in $(seq 2 11); do
      rm -rf "$dir/feeds"
      "$tool" generate "$dir/feeds" "$n" "$PER_FILE" "$v" > /dev/null
      timed_ingest "$dir/paperboy.toml" "$dir/v$v.log"
    done
    grown_store=$(bytes_of "$dir/store.sled") grown_index=$(bytes_of "$dir/store.sled.index")
    grown=$((grown_store + grown_index))
    mkdir -p "$dir/fresh"
    write_config "$dir/fresh" "$dir/feeds" "$dir/fresh/store.sled" false
    timed_ingest "$dir/fresh/paperboy.toml" "$dir/fresh.log"
    fresh=$(( $(bytes_of "$dir/fresh/store.sled") + $(bytes_of "$dir/fresh/store.sled.index") ))
    printf '%-40s %10s bytes/paper (store %s, index %s), fresh store of version 11: %s (%s x)\n' \
      "after ten new versions of every paper" "$((grown / n))" "$((grown_store / n))" \
      "$((grown_index / n))" "$((fresh / n))" "$(ratio "$grown" "$fresh")"
    timed_compact "$dir/paperboy.toml" "$dir/grown-compact.log"
    timed_compact "$dir/fresh/paperboy.toml" "$dir/fresh-compact.log"
    grown=$(( $(bytes_of "$dir/store.sled") + grown_index ))
    fresh=$(( $(bytes_of "$dir/fresh/store.sled") + $(bytes_of "$dir/fresh/store.sled.index") ))
    printf '%-40s %10s bytes/paper, fresh store of version 11 compacted: %s (%s x)\n' \
      "the same, both compacted" "$((grown / n))" "$((fresh / n))" "$(ratio "$grown" "$fresh")"
  fi
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
done

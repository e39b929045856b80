# Shared by the benchmark scripts (sourced, from the project root): timing an ingest and its
# memory, and printing figures. Needs $paperboy, the binary under test.

# Runs an ingest under /usr/bin/time; sets SECONDS_TAKEN, PEAK_KIB (peak resident memory, as
# /usr/bin/time -v reports it) and ANON_KIB (the peak of its anonymous part, sampled every
# 0.1 s: resident memory less the pages of mapped files, such as the search index's segments,
# which the kernel may drop and read again at will).
timed_ingest() { # CONFIG LOG
  local started ended timer pid anon
  started=$(date +%s.%N)
  /usr/bin/time -v "$paperboy" --config "$1" ingest > "$2" 2> "$2.time" &
  timer=$!
  ANON_KIB=0
  while kill -0 "$timer" 2>/dev/null; do
    pid=${pid:-$(pgrep -P "$timer" || true)}
    if [ -n "$pid" ]; then
      anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$anon" ] && [ "$anon" -gt "$ANON_KIB" ] && ANON_KIB=$anon
    fi
    sleep 0.1
  done
  wait "$timer" || { echo "ingest failed:"; tail -20 "$2" "$2.time"; exit 1; }
  ended=$(date +%s.%N)
  SECONDS_TAKEN=$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.2f", b - a }')
  PEAK_KIB=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$2.time")
}

# Runs `paperboy compact` under /usr/bin/time; sets SECONDS_TAKEN and PEAK_KIB.
timed_compact() { # CONFIG LOG
  local started ended
  started=$(date +%s.%N)
  /usr/bin/time -v "$paperboy" --config "$1" compact > "$2" 2> "$2.time" \
    || { echo "compact failed:"; tail -20 "$2" "$2.time"; exit 1; }
  ended=$(date +%s.%N)
  SECONDS_TAKEN=$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.2f", b - a }')
  PEAK_KIB=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$2.time")
}

bytes_of() { du -sb "$1" | cut -f1; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

#!/usr/bin/env bash
# Serving speed against a reference: paperboy serves a 50-entry topic feed, nginx serves the
# very same bytes from a file, and wrk loads each on loopback in the same run: plain 200
# responses; 304s (If-None-Match with each server's ETag); and gzip, as every reader asks
# (Accept-Encoding: gzip), nginx with gzip_static serving paperboy's own gzip bytes from a
# .gz file beside the plain one. Prints requests per second and paperboy's ratio to nginx.
# The goal: 1.0 or better on every row.
#
# Each row is measured ROUNDS times, the two servers in turn, and the median of each is
# printed: on a shared 2-core machine one round alone moves by several percent.
#
#   bash benches/serve_vs_nginx.sh            # needs wrk and nginx (apt-get install wrk nginx-light)
#   DURATION=30s CONNECTIONS=128 ROUNDS=5 bash benches/serve_vs_nginx.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install wrk nginx-light curl"; exit 1; }
done

cargo build --release --quiet
tmp=$(mktemp -d)
chmod 755 "$tmp"  # nginx workers run as an unprivileged user
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

source benches/support/offline_serve.sh
pb_port=$(free_port)
ng_port=$(free_port)
start_offline_paperboy "$tmp" "$pb_port"
pids+=("$PAPERBOY_PID")

mkdir -p "$tmp/www" "$tmp/nginx"
pb_url="http://127.0.0.1:$pb_port/feeds/everything.atom"
curl -fs -D "$tmp/pb.headers" -o "$tmp/www/everything.atom" "$pb_url"
entries=$(grep -o "<entry>" "$tmp/www/everything.atom" | wc -l)
# paperboy's gzip form, byte for byte, for nginx's gzip_static (curl does not decode it).
curl -fs -H "Accept-Encoding: gzip" -o "$tmp/www/everything.atom.gz" "$pb_url"
gzip -t "$tmp/www/everything.atom.gz" || { echo "paperboy's gzip form does not decode"; exit 1; }
cat > "$tmp/nginx/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
error_log $tmp/nginx/error.log;
pid $tmp/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx;
  proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx;
  scgi_temp_path $tmp/nginx;
  server {
    listen 127.0.0.1:$ng_port;
    root $tmp/www;
    location / { default_type application/atom+xml; etag on; gzip_static on; add_header Cache-Control "public, max-age=900"; }
  }
}
NGINX
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
pids+=($!)
ng_url="http://127.0.0.1:$ng_port/everything.atom"
for _ in $(seq 100); do curl -fs -o /dev/null "$ng_url" && break; sleep 0.1; done
curl -fs "$pb_url" > "$tmp/pb.body"; curl -fs "$ng_url" > "$tmp/ng.body"
cmp -s "$tmp/pb.body" "$tmp/ng.body" || { echo "the two servers serve different bytes"; cmp "$tmp/pb.body" "$tmp/ng.body"; wc -c "$tmp/pb.body" "$tmp/ng.body"; exit 1; }

etag() { curl -fsI "$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag" {print $2}'; }
pb_etag=$(etag "$pb_url")
ng_etag=$(etag "$ng_url")

rps() { # url [header]
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$DURATION")
  [ $# -gt 1 ] && args+=(-H "$2")
  wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {print $2}'
}
# rounds PB_URL NG_URL [PB_HEADER NG_HEADER]: "paperboy nginx", the medians of ROUNDS turns.
rounds() {
  local pb=() ng=()
  for _ in $(seq "$ROUNDS"); do
    pb+=("$(rps "$1" ${3:+"$3"})")
    ng+=("$(rps "$2" ${4:+"$4"})")
  done
  median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
  echo "$(median "${pb[@]}") $(median "${ng[@]}")"
}

echo "feed: $entries entries, $(wc -c < "$tmp/www/everything.atom") bytes ($(wc -c < "$tmp/www/everything.atom.gz") gzipped); wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1, median of $ROUNDS rounds"
read -r pb200 ng200 < <(rounds "$pb_url" "$ng_url")
read -r pb304 ng304 < <(rounds "$pb_url" "$ng_url" "If-None-Match: $pb_etag" "If-None-Match: $ng_etag")
ng_gz=$(curl -fs -H "Accept-Encoding: gzip" -D - -o "$tmp/ng.gz" "$ng_url" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding" {print $2}')
[ "$ng_gz" = gzip ] && cmp -s "$tmp/ng.gz" "$tmp/www/everything.atom.gz" || { echo "nginx does not serve the .gz file"; exit 1; }
read -r pbgz nggz < <(rounds "$pb_url" "$ng_url" "Accept-Encoding: gzip" "Accept-Encoding: gzip")
printf '%-10s %14s %14s %8s\n' "response" "paperboy r/s" "nginx r/s" "ratio"
printf '%-10s %14.0f %14.0f %8.2f\n' "200" "$pb200" "$ng200" "$(echo "$pb200 / $ng200" | bc -l)"
printf '%-10s %14.0f %14.0f %8.2f\n' "304" "$pb304" "$ng304" "$(echo "$pb304 / $ng304" | bc -l)"
printf '%-10s %14.0f %14.0f %8.2f\n' "gzip" "$pbgz" "$nggz" "$(echo "$pbgz / $nggz" | bc -l)"

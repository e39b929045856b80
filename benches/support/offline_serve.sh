# Shared by the benchmark scripts (sourced from the repository root, after
# `cargo build --release`).

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_offline_paperboy DIR PORT: the offline config's sources (the snapshots in feeds/) with
# one more topic, `everything`, that takes every paper (105 of them, so the default page holds
# 50 entries); ingests them into DIR, starts `paperboy serve` on 127.0.0.1:PORT in the
# background and waits until it answers. Sets PAPERBOY_PID.
start_offline_paperboy() {
  local dir=$1 port=$2
  # Every load-generating connection comes from 127.0.0.1: no per-address limit.
  sed -e "s#file://../feeds/#file://$(pwd)/feeds/#" -e "s#../data/offline.sled#$dir/store.sled#" \
    -e 's#^\[server\]$#[server]\nmax_connections_per_ip = 0#' \
    config/offline.toml > "$dir/paperboy.toml"
  cat >> "$dir/paperboy.toml" <<TOML

[[topics]]
id = "everything"
title = "Everything"
query = '*'
TOML
  ./target/release/paperboy --config "$dir/paperboy.toml" ingest > /dev/null
  RUST_LOG=warn ./target/release/paperboy --config "$dir/paperboy.toml" serve --listen "127.0.0.1:$port" &
  PAPERBOY_PID=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" > /dev/null && return; sleep 0.1; done
  echo "paperboy serve did not answer on port $port"; return 1
}

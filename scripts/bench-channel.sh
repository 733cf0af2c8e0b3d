#!/usr/bin/env bash
# A channel of N members (default 3) on this machine, each a headless
# caller with synthetic devices sending WxH at 30 fps: prints what each
# member decoded from each other member, its receive bitrate per member,
# and its CPU use (media is a mesh: each member encodes once and sends to
# N-1, and decodes N-1 streams).
#
#   scripts/bench-channel.sh [members] [seconds] [width] [height] [bitrate]
set -euo pipefail
cd "$(dirname "$0")/.."
members=${1:-3}; seconds=${2:-20}; width=${3:-640}; height=${4:-360}; bitrate=${5:-800000}
cargo build --release --quiet -p media-server -p libmedia --example caller
bin=target/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
secret=bench-$RANDOM
$bin/media-server serve --listen 127.0.0.1:0 --app "bench:$secret" > "$work/server.out" 2>/dev/null &
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.05; done
url=$(awk '{print $NF}' "$work/server.out")
pids=()
for i in $(seq "$members"); do
  user=m$i
  token=$($bin/media-server token --app "bench:$secret" --user "$user")
  $bin/examples/caller --server "$url" --app bench --token "$token" --me "$user" --fake --headless \
    --host-ip 127.0.0.1 --width "$width" --height "$height" --bitrate "$bitrate" --tone $((300 + 100 * i)) \
    --duration "$seconds" channel bench-room < /dev/null > "$work/$user.out" &
  pids+=($!)
done
wait "${pids[@]}" || true
echo "$members members, ${width}x${height} at $bitrate bit/s, $seconds s, on $(nproc) cores:"
for i in $(seq "$members"); do
  echo "m$i:"
  grep -E "^(summary uid|cpu:)" "$work/m$i.out" | sed 's/^/  /'
done

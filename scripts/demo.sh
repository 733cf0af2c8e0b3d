#!/usr/bin/env bash
# The call demo on one machine: starts the rendezvous server and two
# desktop callers with synthetic devices (a tone and a moving test pattern
# each); alice calls bob, they talk for a while, alice hangs up. Each opens
# a window when a display is available (DISPLAY), else runs headless; both
# print a status line once a second and a summary at the end.
#
#   scripts/demo.sh                  # the call demo (10 s)
#   scripts/demo.sh --seconds 30     # longer
#   scripts/demo.sh channel          # three callers in one channel (a mesh)
#   scripts/demo.sh echo [ARGS]      # the echo test instead (see --help)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

if [ "${1:-}" = "echo" ]; then
  shift
  if [[ " $* " == *" --real-devices "* ]] && [ ! -e /dev/snd ]; then
    eval "$(scripts/pulse.sh)"
  fi
  exec cargo run --release --quiet --example echo -- "$@"
fi

mode=call
if [ "${1:-}" = "channel" ]; then mode=channel; shift; fi
seconds=10
if [ "${1:-}" = "--seconds" ]; then seconds=$2; fi
cargo build --release --quiet -p media-server -p libmedia --example caller
bin=target/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

secret=demo-secret-$RANDOM
$bin/media-server serve --listen 127.0.0.1:0 --app "demo:$secret" > "$work/server.out" 2>/dev/null &
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.05; done
url=$(awk '{print $NF}' "$work/server.out")
echo "server: $url"
common=(--server "$url" --fake --host-ip 127.0.0.1)
if [ -z "${DISPLAY:-}" ]; then common+=(--headless); fi
token() { $bin/media-server token --app "demo:$secret" --user "$1"; }

if [ "$mode" = channel ]; then
  pids=()
  for who in alice:440 bob:660 carol:880; do
    user=${who%%:*}
    $bin/examples/caller "${common[@]}" --token "$(token "$user")" --me "$user" --tone "${who##*:}" \
      --record "$work/$user" --duration "$seconds" channel demo-room < /dev/null | sed "s/^/  $user | /" &
    pids+=($!)
    sleep 1
  done
  wait "${pids[@]}" || true
  echo "recordings were in $work (removed on exit); run the caller with --record DIR to keep them"
  exit 0
fi
$bin/examples/caller "${common[@]}" --token "$(token bob)" \
  --me bob:Bob --tone 660 --record "$work/bob" answer | sed 's/^/  bob   | /' &
bob=$!
sleep 1
$bin/examples/caller "${common[@]}" --token "$(token alice)" \
  --me alice:Alice --tone 440 --record "$work/alice" --duration "$seconds" call bob | sed 's/^/  alice | /'
wait $bob || true
echo "recordings were in $work (removed on exit); run the caller with --record DIR to keep them"

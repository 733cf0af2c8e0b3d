#!/usr/bin/env bash
# The call demo on one machine: starts the rendezvous server and two
# headless desktop callers with synthetic devices (a tone and a moving test
# pattern each); alice calls bob, they talk for a while, alice hangs up.
# Both print a status line once a second and a summary at the end.
#
#   scripts/demo.sh                  # the call demo (10 s)
#   scripts/demo.sh --seconds 30     # longer
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
common=(--server "$url" --fake --headless --host-ip 127.0.0.1)
$bin/examples/caller "${common[@]}" --token "$($bin/media-server token --app "demo:$secret" --user bob)" \
  --me bob:Bob --tone 660 --record "$work/bob" answer | sed 's/^/  bob   | /' &
bob=$!
sleep 1
$bin/examples/caller "${common[@]}" --token "$($bin/media-server token --app "demo:$secret" --user alice)" \
  --me alice:Alice --tone 440 --record "$work/alice" --duration "$seconds" call bob | sed 's/^/  alice | /'
wait $bob || true
echo "recordings were in $work (removed on exit); run the caller with --record DIR to keep them"

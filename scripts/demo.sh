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
#   scripts/demo.sh channel --seconds 5
#   scripts/demo.sh echo [ARGS]      # the echo test instead (see --help)
#
# It ends with a verdict and exits 0 only when the demo worked: in a call,
# both sides decoded the other's video and audio and the call ended with
# `hangup`; in a channel, every member decoded every other member's video
# and audio and left. Anything else exits 1 and says what was missing.
# MEDIA_DEMO_SERVER_URL points the callers at another server URL than the
# demo's own (the way to see a broken call fail the demo).
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
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    *) echo "demo: unknown argument $1 (see the top of $0)" >&2; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] || { echo "demo: --seconds takes a whole number >= 1" >&2; exit 2; }

# The server binary and the caller example are separate targets: build both.
cargo build --release --quiet -p media-server --bin media-server
cargo build --release --quiet -p libmedia --example caller
bin=target/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

secret=demo-secret-$RANDOM
$bin/media-server serve --listen 127.0.0.1:0 --app "demo:$secret" > "$work/server.out" 2> "$work/server.err" &
server=$!
for _ in $(seq 200); do
  grep -q listening "$work/server.out" 2>/dev/null && break
  kill -0 $server 2>/dev/null || break
  sleep 0.05
done
if ! grep -q listening "$work/server.out"; then
  echo "demo: FAILED: the server did not start:" >&2
  cat "$work/server.err" >&2
  exit 1
fi
url=${MEDIA_DEMO_SERVER_URL:-$(awk '{print $NF}' "$work/server.out")}
echo "server: $url"
common=(--server "$url" --fake --host-ip 127.0.0.1)
if [ -z "${DISPLAY:-}" ]; then common+=(--headless); fi
token() { $bin/media-server token --app "demo:$secret" --user "$1"; }

# Frames a caller decoded from one peer: "<video> <audio>" from its summary.
# In a call the summary's totals; in a channel the line of that peer's uid.
decoded_total() {
  sed -n 's/^summary: video \([0-9]*\) decoded.*audio \([0-9]*\) decoded.*/\1 \2/p' "$1" | tail -1
}
decoded_per_remote() {
  sed -n 's/^summary uid \([0-9]*\): video \([0-9]*\) decoded.*audio \([0-9]*\) decoded.*/\1 \2 \3/p' "$1"
}
# At least this many frames a second of media: a quarter of what is sent
# (30 fps video, 50 audio frames), so a loaded machine still passes and
# a call whose media never flowed does not.
min_video() { echo $(( $1 * 30 / 4 )); }
min_audio() { echo $(( $1 * 50 / 4 )); }

# Starts a caller in the background: its output goes to $work/NAME.out and,
# prefixed with its name, to the terminal; its exit status to NAME.rc.
run_caller() {
  local name=$1; shift
  ( $bin/examples/caller "$@" < /dev/null 2>&1 &
    echo $! > "$work/$name.pid"; set +e; wait $!; echo $? > "$work/$name.rc" ) |
    tee "$work/$name.out" | sed -u "s/^/  $(printf '%-5s' "$name") | /" &
  printers+=($!)
}
printers=()
# Waits up to $2 seconds for caller NAME to end; kills it after that.
# Prints its exit status (124 when it was killed).
wait_caller() {
  local name=$1 limit=$2
  for _ in $(seq $((limit * 20))); do
    if [ -s "$work/$name.rc" ]; then cat "$work/$name.rc"; return; fi
    sleep 0.05
  done
  kill "$(cat "$work/$name.pid" 2>/dev/null)" 2>/dev/null || true
  echo 124
}

if [ "$mode" = channel ]; then
  users=(alice bob carol)
  tones=(440 660 880)
  for i in 0 1 2; do
    user=${users[$i]}
    # Each stays `seconds` after it joined; members join a second apart, so
    # the first one leaves when the last has been in for seconds - 2 s:
    # the earlier ones stay longer, so that everyone sees everyone.
    stay=$(( seconds + 2 * (2 - i) ))
    run_caller "$user" "${common[@]}" --token "$(token "$user")" --me "$user" --tone "${tones[$i]}" \
      --record "$work/$user" --duration "$stay" channel demo-room
    sleep 1
  done
  failed=()
  for user in "${users[@]}"; do
    rc=$(wait_caller "$user" $((seconds + 60)))
    [ "$rc" = 0 ] || failed+=("$user's caller exited with $rc")
  done
  wait "${printers[@]}" || true
  uid_of() { sed -n 's/^joined demo-room as uid \([0-9]*\).*/\1/p' "$work/$1.out" | head -1; }
  verdict=()
  for user in "${users[@]}"; do
    out="$work/$user.out"
    grep -q "^left demo-room" "$out" || failed+=("$user did not leave the channel cleanly")
    for other in "${users[@]}"; do
      [ "$other" = "$user" ] && continue
      uid=$(uid_of "$other")
      line=$(decoded_per_remote "$out" | awk -v u="${uid:--1}" '$1 == u {print $2, $3}' | tail -1)
      read -r v a <<< "${line:-0 0}"
      if [ "$v" -lt 10 ] || [ "$a" -lt 10 ]; then
        failed+=("$user decoded $v video / $a audio frames from $other")
      fi
      verdict+=("$user ← $other: $v video, $a audio")
    done
  done
  if ((${#failed[@]})); then
    echo "demo: FAILED: $(IFS=';'; echo "${failed[*]}" | sed 's/;/; /g')"
    exit 1
  fi
  echo "demo: ok: 3 members in demo-room, each decoded each other: $(IFS=';'; echo "${verdict[*]}" | sed 's/;/; /g'); all left"
  exit 0
fi

run_caller bob "${common[@]}" --token "$(token bob)" \
  --me bob:Bob --tone 660 --record "$work/bob" answer
sleep 1
run_caller alice "${common[@]}" --token "$(token alice)" \
  --me alice:Alice --tone 440 --record "$work/alice" --duration "$seconds" call bob
failed=()
# The call rings for at most 30 s (the server's timeout), then lasts `seconds`.
alice_rc=$(wait_caller alice $((seconds + 60)))
# Bob's side ends when alice hangs up; a broken call may leave him waiting.
bob_rc=$(wait_caller bob 15)
wait "${printers[@]}" || true
[ "$alice_rc" = 0 ] || failed+=("alice's caller exited with $alice_rc")
[ "$bob_rc" = 0 ] || failed+=("bob's caller exited with $bob_rc")
read -r av aa <<< "$(decoded_total "$work/alice.out")"
read -r bv ba <<< "$(decoded_total "$work/bob.out")"
av=${av:-0} aa=${aa:-0} bv=${bv:-0} ba=${ba:-0}
mv=$(min_video "$seconds") ma=$(min_audio "$seconds")
[ "$av" -ge "$mv" ] && [ "$aa" -ge "$ma" ] ||
  failed+=("alice decoded $av video / $aa audio frames from bob (want >= $mv / $ma)")
[ "$bv" -ge "$mv" ] && [ "$ba" -ge "$ma" ] ||
  failed+=("bob decoded $bv video / $ba audio frames from alice (want >= $mv / $ma)")
a_end=$(sed -n 's/^call ended: //p' "$work/alice.out" | tail -1)
b_end=$(sed -n 's/^call ended: //p' "$work/bob.out" | tail -1)
[ "$a_end" = hangup ] || failed+=("alice's call ended: ${a_end:-never}")
[ "$b_end" = hangup ] || failed+=("bob's call ended: ${b_end:-never}")
if ((${#failed[@]})); then
  echo "demo: FAILED: $(IFS=';'; echo "${failed[*]}" | sed 's/;/; /g')"
  grep -h "^server failed\|^error\|^caller:" "$work/alice.out" "$work/bob.out" 2>/dev/null | sort -u | sed 's/^/  /' || true
  exit 1
fi
echo "demo: ok: alice ↔ bob: alice decoded $av video and $aa audio frames, bob $bv and $ba, ended: hangup"

#!/usr/bin/env bash
# Daemon at rest: how much memory `feedwatch run` holds and how often it wakes once its
# first poll cycle is over and nothing is due (issue 6, item 5: idle RSS <= 20 MB with 100
# feeds, no busy polling).
#
#   benches/idle.sh                        # 100 feeds over HTTP on 127.0.0.1, 60 s idle window
#   FEEDWATCH_IDLE_FEEDS=1000 FEEDWATCH_IDLE_SECONDS=120 benches/idle.sh
#   FEEDWATCH_IDLE_TRANSPORT=file benches/idle.sh    # file:// feeds, no HTTP server
#   FEEDWATCH_IDLE_STRACE=1 benches/idle.sh          # also count syscalls (strace -f -c)
#   FEEDWATCH_BIN=/path/to/feedwatch benches/idle.sh
#
# It generates N RSS feeds of 30 items each, serves them with `python3 -m http.server`
# (HTTP/1.1 keep-alive; it answers If-Modified-Since with 304), writes a config with N
# feeds at `interval = "15m"`, 10 rules and one stdout destination with a daily digest,
# starts the daemon, waits until every feed has been polled once (`feedwatch status
# --json`), lets it settle, then reads /proc for the idle window: VmRSS / VmHWM / threads,
# context switches summed over all threads (every wakeup of a sleeping thread is one
# voluntary switch), and utime + stime. Nothing leaves 127.0.0.1; everything it made is
# removed afterwards.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

N=${FEEDWATCH_IDLE_FEEDS:-100}
IDLE=${FEEDWATCH_IDLE_SECONDS:-60}
SETTLE=${FEEDWATCH_IDLE_SETTLE:-15} # tokio's blocking threads exit after 10 s unused
TRANSPORT=${FEEDWATCH_IDLE_TRANSPORT:-http}
BIN=${FEEDWATCH_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-target}/release/feedwatch"
fi
BIN=$(realpath "$BIN")

work=$(mktemp -d /tmp/feedwatch-idle.XXXXXX)
daemon_pid=""
server_pid=""
cleanup() {
  set +e # a server killed by SIGTERM makes `wait` fail; the removal must still happen
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# --- feeds -----------------------------------------------------------------------------
mkdir -p "$work/feeds"
words=(Kyrgyzstan CSTO Lavrov Bishkek summit ministers talks security treaty energy
  Лавров ОДКБ Бишкек саммит переговоры министры безопасность договор)
for ((f = 1; f <= N; f++)); do
  name=$(printf 'feed-%04d' "$f")
  {
    printf '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>\n'
    printf '<title>%s</title><link>https://news.example.org/%s</link><description>synthetic</description>\n' "$name" "$name"
    for ((i = 1; i <= 30; i++)); do
      a=${words[$(((f * 7 + i) % ${#words[@]}))]}
      b=${words[$(((f + i * 3) % ${#words[@]}))]}
      printf '<item><title>%s and %s: report %d of %s</title>' "$a" "$b" "$i" "$name"
      printf '<link>https://news.example.org/%s/%d</link><guid>https://news.example.org/%s/%d</guid>' "$name" "$i" "$name" "$i"
      printf '<pubDate>Mon, 01 Jun 2026 %02d:%02d:00 +0000</pubDate>' $((i % 24)) $((f % 60))
      printf '<description>%s met %s officials; the %s talks went on for a day in Bishkek.</description></item>\n' "$a" "$b" "$name"
    done
    printf '</channel></rss>\n'
  } >"$work/feeds/$name.xml"
done

if [ "$TRANSPORT" = http ]; then
  : >"$work/server.log"
  python3 -u -m http.server 0 --protocol HTTP/1.1 --bind 127.0.0.1 --directory "$work/feeds" >"$work/server.log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 300); do
    port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$work/server.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "idle.sh: the HTTP server did not start" >&2; exit 1; }
  base="http://127.0.0.1:$port"
else
  base="file://$work/feeds"
fi

# --- config ----------------------------------------------------------------------------
cfg="$work/feedwatch.toml"
{
  printf '[daemon]\nstate = "state/feedwatch.db"\ninterval = "15m"\n\n'
  for ((f = 1; f <= N; f++)); do
    name=$(printf 'feed-%04d' "$f")
    printf '[[feed]]\nname = "%s"\nurl = "%s/%s.xml"\n\n' "$name" "$base" "$name"
  done
  rules=('CSTO OR ОДКБ' 'Lavrov AND Kyrgyz*' '"security treaty"' 'Лавров AND Бишкек'
    'summit NEAR/5 ministers' 'title:energy' 'talks AND NOT energy' '/Bishkek|Бишкек/i'
    'Kyrgyzstan OR Киргизия' 'переговоры AND министры')
  for ((r = 0; r < ${#rules[@]}; r++)); do
    printf "[[rule]]\nname = \"rule-%d\"\nquery = '%s'\n\n" "$r" "${rules[$r]}"
  done
  printf '[destination.console]\ntype = "stdout"\ndigest = "daily 08:00"\n'
} >"$cfg"
"$BIN" check --config "$cfg" >/dev/null

# --- run -------------------------------------------------------------------------------
"$BIN" run --config "$cfg" --log-level warn >"$work/daemon.out" 2>"$work/daemon.log" &
daemon_pid=$!
start=$(date +%s)
polled=0
while [ "$polled" -lt "$N" ]; do
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "idle.sh: the daemon exited:" >&2
    cat "$work/daemon.log" >&2
    exit 1
  fi
  if [ $(($(date +%s) - start)) -gt 300 ]; then
    echo "idle.sh: only $polled of $N feeds polled after 300 s" >&2
    exit 1
  fi
  sleep 2
  polled=$("$BIN" status --json --config "$cfg" 2>/dev/null | grep -c '"last_poll": "' || true)
done
first_cycle=$(($(date +%s) - start))
failing=$("$BIN" status --json --config "$cfg" 2>/dev/null | grep -c '"last_error": "' || true)
sleep "$SETTLE"

tck=$(getconf CLK_TCK)
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$daemon_pid/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }
switches() { # voluntary nonvoluntary, summed over every thread
  cat /proc/"$daemon_pid"/task/*/status 2>/dev/null |
    awk '$1 == "voluntary_ctxt_switches:" { v += $2 } $1 == "nonvoluntary_ctxt_switches:" { n += $2 }
         END { print v + 0, n + 0 }'
}
per_thread() { # tid comm voluntary
  for t in /proc/"$daemon_pid"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" \
      "$(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$t/status")"
  done 2>/dev/null | sort
}

rss0=$(status_kb VmRSS)
cpu0=$(cpu_ticks)
read -r vol0 nvol0 < <(switches)
per_thread >"$work/threads0"
sleep "$IDLE"
rss1=$(status_kb VmRSS)
anon=$(status_kb RssAnon)
file=$(status_kb RssFile)
hwm=$(status_kb VmHWM)
threads=$(status_kb Threads)
cpu1=$(cpu_ticks)
read -r vol1 nvol1 < <(switches)
per_thread >"$work/threads1"

echo "feedwatch at rest: $N feeds over $TRANSPORT, interval 15m, 10 rules, 1 destination"
echo "binary:            $BIN"
echo "machine:           $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "first cycle:       all $N feeds polled ${first_cycle} s after start ($failing failing; new feeds are spread over 60 s)"
echo "VmRSS:             $(mb "$rss0") after the first cycle + ${SETTLE} s, $(mb "$rss1") after ${IDLE} s idle"
echo "of which:          $(mb "$anon") anonymous (heap, stacks, relocated data), $(mb "$file") file-backed (the binary's and libraries' pages, shared and reclaimable)"
echo "VmHWM:             $(mb "$hwm") (peak, during the first cycle)"
echo "threads:           $threads"
echo "idle ${IDLE} s:         $((vol1 - vol0)) voluntary + $((nvol1 - nvol0)) involuntary context switches (all threads), $(((cpu1 - cpu0) * 1000 / tck)) ms CPU (utime+stime)"
echo "per thread:        $(join -a1 "$work/threads0" "$work/threads1" 2>/dev/null |
  awk '{ printf "%s %s=%d  ", $1, $2, ($5 == "" ? 0 : $5 - $3) }')"
if [ "$rss1" -le $((20 * 1024)) ]; then
  echo "target:            idle RSS <= 20 MB: met"
else
  echo "target:            idle RSS <= 20 MB: NOT met"
fi

if [ "${FEEDWATCH_IDLE_STRACE:-0}" = 1 ] && command -v strace >/dev/null; then
  echo "strace -f -c over another ${IDLE} s:"
  timeout -s INT "$IDLE" strace -f -c -p "$daemon_pid" 2>&1 | sed 's/^/  /' || true
fi

#!/usr/bin/env bash
# The load benchmark (issue 6): builds feedwatch and the harness in release, installs the
# peers (newsboat, rss2email) and GNU time when missing, and runs the harness.
#
#   benches/run-load.sh [N] [R] [loadbench options...]      # defaults N=1000, R=1000
#   benches/run-load.sh 10000 1000 --peers none
#
# The report is printed and written to target/loadbench-results.md; the corpus, configs
# and each tool's state stay in target/loadbench/. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-1000}
R=${2:-1000}
shift $(( $# < 2 ? $# : 2 ))

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
        { as_root apt-get update -qq >/dev/null 2>&1 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; }
}

# Missing tools are installed if possible; a peer that cannot be installed is skipped.
[ -x /usr/bin/time ] || apt_install time || { echo "run-load: GNU time is required (apt-get install time)" >&2; exit 2; }
command -v newsboat >/dev/null || apt_install newsboat || echo "run-load: newsboat not installed; its columns stay empty" >&2
command -v r2e >/dev/null || python3 -m pip install -q rss2email >/dev/null 2>&1 ||
    echo "run-load: rss2email not installed; its columns stay empty" >&2
hash -r

cargo build --release --quiet -p feedwatch --bin feedwatch
cargo build --release --quiet -p feedwatch-benches --bin loadbench
exec target/release/loadbench --feeds "$N" --rules "$R" "$@"

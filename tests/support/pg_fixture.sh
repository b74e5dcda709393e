#!/usr/bin/env bash
# The test run's throwaway PostgreSQL cluster (CTest fixture "pg").
#
#   pg_fixture.sh start STATE_DIR   initdb into a fresh temp dir, start on a
#                                   free port, write the URL to STATE_DIR/url
#   pg_fixture.sh stop STATE_DIR    stop it and remove the temp dir
#
# Tests read STATE_DIR/url and create their own databases in that cluster.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pg="$here/../../scripts/pg"
cmd=${1:?start or stop}; state=${2:?state dir}
mkdir -p "$state"

case "$cmd" in
  start)
    if [ -f "$state/dir" ] && [ -d "$(cat "$state/dir")" ]; then
      "$pg" stop "$(cat "$state/dir")" immediate || true
      rm -rf "$(cat "$state/dir")"
    fi
    # Short path: the server's Unix socket lives in it.
    dir=$(mktemp -d /tmp/crawld-pg.XXXXXX)
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$dir" >"$state/dir"
    "$pg" start "$dir" "$port" >"$state/url.tmp"
    mv "$state/url.tmp" "$state/url"
    echo "pg fixture: $(cat "$state/url") in $dir"
    ;;
  stop)
    if [ -f "$state/dir" ]; then
      dir=$(cat "$state/dir")
      "$pg" stop "$dir" immediate || true
      rm -rf "$dir" "$state/dir" "$state/url"
    fi
    ;;
  *)
    echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac

#!/bin/sh
# Starts PostgreSQL 15 in the foreground. An empty data folder is first
# initialised with POSTGRES_USER (default postgres), POSTGRES_PASSWORD
# (required) and POSTGRES_DB (default: the user's name), and set to accept
# password logins (scram-sha-256) from the container network.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD is required to initialise $PGDATA" >&2
    exit 1
  fi
  case $POSTGRES_PASSWORD in
    *"
"*) echo "postgres-entrypoint: POSTGRES_PASSWORD must be one line" >&2; exit 1 ;;
  esac
  # The password reaches initdb through a file only the postgres user can
  # read, removed however initdb ends.
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
         --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  trap - EXIT
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    # Identifiers quoted as SQL does: a double quote is doubled.
    quoted() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
    postgres --single -D "$PGDATA" -c listen_addresses='' postgres <<SQL >/dev/null
CREATE DATABASE $(quoted "$db") OWNER $(quoted "$user");
SQL
  fi
  echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'

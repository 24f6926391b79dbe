# shellcheck shell=bash
# Sourced (not run) by scripts/fuzz-api and scripts/postman-run, from the
# repository's root under `set -euo pipefail`: the API as `tmctl serve` on a
# free loopback port, on a fresh database of its own on the PostgreSQL that
# scripts/pg-server finds.
#
#   local_api_start NAME LOG  tmctl (TMCTL, else cargo builds target/debug/tmctl);
#                             database tm_NAME_<pid>, migrated; the server, its
#                             output in LOG, answering before this returns.
#                             Sets TMCTL, DATABASE_URL and JWT_SECRET (exported)
#                             and BASE (the server's URL).
#   local_api_user NAME ROLE  a user with a random password, which it prints.
#   local_api_stop            stops the server and drops the database; for the
#                             caller's EXIT trap: safe at any point, and twice.

LOCAL_API_PG=""
LOCAL_API_DB=""
LOCAL_API_PID=""

local_api_secret() {
  head -c "$1" /dev/urandom | base64 | tr -d '\n'
}

local_api_start() {
  local name="$1" log="$2" port
  if [ -z "${TMCTL:-}" ]; then
    cargo build --quiet -p tmctl
    TMCTL=target/debug/tmctl
  fi
  # scripts/pg-server starts a private cluster with it when it has to.
  export TMCTL
  LOCAL_API_PG="$(scripts/pg-server)"
  LOCAL_API_DB="tm_${name}_$$"
  psql -q -w "$LOCAL_API_PG" -c "CREATE DATABASE $LOCAL_API_DB"
  DATABASE_URL="$(python3 bench/lib/dburl.py with-db "$LOCAL_API_PG" "$LOCAL_API_DB")"
  JWT_SECRET="$(local_api_secret 48)"
  export DATABASE_URL JWT_SECRET
  "$TMCTL" migrate

  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  BASE="http://127.0.0.1:$port"
  "$TMCTL" serve --bind "127.0.0.1:$port" >"$log" 2>&1 &
  LOCAL_API_PID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "$BASE/api/schema/" && return 0
    if ! kill -0 "$LOCAL_API_PID" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "local-api: tmctl serve did not answer at $BASE; its output ($log):" >&2
  tail -20 "$log" >&2
  return 1
}

# The password goes to tmctl on stdin, not on a command line `ps` shows.
local_api_user() {
  local password
  password="$(local_api_secret 24)"
  printf '%s\n' "$password" | "$TMCTL" user create --username "$1" --role "$2" >&2 || return 1
  printf '%s\n' "$password"
}

local_api_stop() {
  if [ -n "$LOCAL_API_PID" ]; then
    kill "$LOCAL_API_PID" 2>/dev/null || true
    wait "$LOCAL_API_PID" 2>/dev/null || true
    LOCAL_API_PID=""
  fi
  if [ -n "$LOCAL_API_DB" ]; then
    psql -q -w "$LOCAL_API_PG" -c "DROP DATABASE IF EXISTS $LOCAL_API_DB" 2>/dev/null || true
    LOCAL_API_DB=""
  fi
}

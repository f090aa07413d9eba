#!/usr/bin/env bash
# A local PostgreSQL for the test suite: installs Debian's postgresql when no
# server is installed, creates and starts a cluster when needed, makes the role
# capstan (password capstan, CREATEDB) and the database capstan_test, and checks
# that the URL logs in. Idempotent: a second run changes nothing. Two ways to use it:
#
#   TEST_DATABASE_URL=$(bash scripts/ci/postgres.sh)   # prints the URL (what .ci/run does)
#   source scripts/ci/postgres.sh                      # exports TEST_DATABASE_URL and
#                                                      # CAPSTAN_REQUIRE_POSTGRES=1
#
# Needs root, or sudo. CAPSTAN_PG_CLUSTER names the cluster (default: main, of
# the newest installed major version); a new cluster gets the next free port.
# Progress goes to stderr, the URL alone to stdout.

capstan_postgres_url() (
  set -euo pipefail
  log() { echo "postgres.sh: $*" >&2; }
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres -- "$@"; fi; }

  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql from Debian's packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi

  local version name status port
  # shellcheck disable=SC2012 # major-version directories are plain numbers
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  name=${CAPSTAN_PG_CLUSTER:-main}
  # pg_lsclusters: Ver Cluster Port Status Owner Data-directory Log-file
  if ! pg_lsclusters --no-header "$version" "$name" >/dev/null 2>&1; then
    log "creating cluster $version/$name"
    as_root pg_createcluster "$version" "$name" >&2
  fi
  status=$(pg_lsclusters --no-header "$version" "$name" | awk '{print $4}')
  if [[ $status != online* ]]; then
    log "starting cluster $version/$name (was $status)"
    as_root pg_ctlcluster "$version" "$name" start >&2
  fi
  port=$(pg_lsclusters --no-header "$version" "$name" | awk '{print $3}')

  local ready=
  for _ in $(seq 1 30); do
    if as_postgres psql -p "$port" -tAc 'select 1' >/dev/null 2>&1; then ready=1; break; fi
    sleep 1
  done
  [ -n "$ready" ] || { log "cluster $version/$name on port $port does not accept connections"; exit 1; }

  # The role is (re)set every time, so a role left with another password heals.
  as_postgres psql -p "$port" -v ON_ERROR_STOP=1 -q >&2 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'capstan') THEN
    CREATE ROLE capstan;
  END IF;
END $$;
ALTER ROLE capstan WITH LOGIN CREATEDB PASSWORD 'capstan';
SQL
  if [ "$(as_postgres psql -p "$port" -tAc "select 1 from pg_database where datname = 'capstan_test'")" != 1 ]; then
    log "creating database capstan_test"
    as_postgres createdb -p "$port" -O capstan capstan_test >&2
  fi

  local url="postgresql://capstan:capstan@127.0.0.1:$port/capstan_test"
  if ! PGPASSWORD=capstan psql -h 127.0.0.1 -p "$port" -U capstan -d capstan_test -tAc 'select 1' >/dev/null; then
    log "cannot log in as capstan over TCP at 127.0.0.1:$port (check pg_hba.conf)"
    exit 1
  fi
  echo "$url"
)

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
  # Sourced: run as a child bash (inside `if`, set -e would be ignored in the
  # function) and export into the caller's shell without changing its options.
  if TEST_DATABASE_URL=$(bash "${BASH_SOURCE[0]}"); then
    export TEST_DATABASE_URL CAPSTAN_REQUIRE_POSTGRES=1
    echo "TEST_DATABASE_URL=$TEST_DATABASE_URL" >&2
  else
    unset TEST_DATABASE_URL
    echo "postgres.sh: failed; TEST_DATABASE_URL not set" >&2
    return 1
  fi
else
  capstan_postgres_url
fi

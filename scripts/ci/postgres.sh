#!/usr/bin/env bash
# Installs (from Debian's packages) and starts a local PostgreSQL for the test
# suite, creates the capstan role and database, and prints the URL to use:
#   export TEST_DATABASE_URL=$(bash scripts/ci/postgres.sh)
# Idempotent: safe to run when everything is already there. Needs root.
set -euo pipefail
log() { echo "postgres.sh: $*" >&2; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  log "creating cluster $version main"
  pg_createcluster "$version" main >&2
  cluster="$version main"
fi
if ! pg_lsclusters --no-header | awk 'NR==1 {print $4}' | grep -q online; then
  log "starting cluster $cluster"
  # shellcheck disable=SC2086
  pg_ctlcluster $cluster start >&2
fi
port=$(pg_lsclusters --no-header | awk 'NR==1 {print $3}')

for _ in $(seq 1 30); do
  su postgres -c "psql -p $port -tAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -q" >&2 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'capstan') THEN
    CREATE ROLE capstan LOGIN PASSWORD 'capstan' CREATEDB;
  END IF;
END $$;
SQL
if ! su postgres -c "psql -p $port -tAc \"select 1 from pg_database where datname='capstan_test'\"" | grep -q 1; then
  su postgres -c "createdb -p $port -O capstan capstan_test" >&2
fi
echo "postgresql://capstan:capstan@127.0.0.1:$port/capstan_test"

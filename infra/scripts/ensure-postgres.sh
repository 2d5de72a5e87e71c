#!/usr/bin/env bash
# Install Debian's PostgreSQL server unless its binaries are already there.
# Idempotent and quiet when nothing needs doing; tests find the binaries in
# /usr/lib/postgresql/<version>/bin (they are not on PATH).
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "ensure-postgres: PostgreSQL is missing and installing it needs root or sudo" >&2
    exit 1
fi

echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null

if ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
    echo "ensure-postgres: installed, yet no /usr/lib/postgresql/*/bin/pg_ctl" >&2
    exit 1
fi

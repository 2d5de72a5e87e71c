#!/bin/sh
# Runs once, when the PostgreSQL volume is empty (docker-entrypoint-initdb.d):
# one database and one login per service, each owning only its own database.
# No service can connect to another's database: CONNECT is revoked from PUBLIC.
set -eu
create() { # service password
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=name="$1" --set=password="$2" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$1" <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$1" --set=name="$1" <<'SQL'
SELECT format('ALTER SCHEMA public OWNER TO %I', :'name') \gexec
CREATE EXTENSION IF NOT EXISTS unaccent;
SQL
}
create catalog "${CATALOG_DB_PASSWORD:?}"
create pricing "${PRICING_DB_PASSWORD:?}"
create orders "${ORDERS_DB_PASSWORD:?}"
create access "${ACCESS_DB_PASSWORD:?}"
create audit "${AUDIT_DB_PASSWORD:?}"
create portal "${PORTAL_DB_PASSWORD:?}"

#!/bin/bash
# Runs once, when the primary's volume is first initialised (docker-entrypoint-initdb.d): a role the streaming
# replica connects with, and a pg_hba line that lets it replicate from the compose network.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$REPLICATION_PASSWORD" <<'SQL'
create role replicator with replication login password :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"

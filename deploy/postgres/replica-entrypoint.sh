#!/bin/bash
# The streaming replica: on an empty volume, a base backup of the primary with -R (standby.signal and
# primary_conninfo written for us), then a hot standby. Runs as the postgres user (see docker-compose.yml).
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do
        echo "replica: waiting for the primary"
        sleep 1
    done
    export PGPASSWORD="$REPLICATION_PASSWORD"
    pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U replicator -D "$PGDATA" -R -X stream -c fast
    chmod 700 "$PGDATA"
fi
# hot_standby_feedback: long reads on the replica are not cancelled by the primary's vacuum (it waits for them).
exec postgres -c hot_standby=on -c hot_standby_feedback=on -c max_connections=200

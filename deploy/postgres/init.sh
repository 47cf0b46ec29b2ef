#!/bin/sh
# Compose: the postgres image runs this once, on an empty data folder, as its superuser
# (docker-entrypoint-initdb.d): the roles of roles.sql, then each login role's password from
# the environment (the same BIN_<NAME>_PASSWORD its service's URL carries).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -f /etc/bin-platform/roles.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v migrate="$BIN_MIGRATE_PASSWORD" -v registry="$BIN_REGISTRY_PASSWORD" \
    -v intake="$BIN_INTAKE_PASSWORD" -v dispatch="$BIN_DISPATCH_PASSWORD" \
    -v digest="$BIN_DIGEST_PASSWORD" -v connectors="$BIN_CONNECTORS_PASSWORD" <<'SQL'
ALTER ROLE bin_migrate PASSWORD :'migrate';
ALTER ROLE bin_registry PASSWORD :'registry';
ALTER ROLE bin_intake PASSWORD :'intake';
ALTER ROLE bin_dispatch PASSWORD :'dispatch';
ALTER ROLE bin_digest PASSWORD :'digest';
ALTER ROLE bin_connectors PASSWORD :'connectors';
SQL

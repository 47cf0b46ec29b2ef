-- The platform's PostgreSQL roles and what each may do. Run once by an administrator, in
-- the platform's database, before the first migration (again after adding a service):
--
--   psql -v ON_ERROR_STOP=1 -d bin -f deploy/postgres/roles.sql
--
-- then give each login role its password (\password bin_registry, ...); compose does both
-- through deploy/postgres/init.sh. -v role_prefix=... names the roles otherwise than bin_.
--
-- bin_migrate owns every schema and everything in it and is the only role that migrates
-- (the Kubernetes Job, compose's migrate service). Each service logs in as a role of its
-- own that may read and write the rows of its own schema and nothing else: no other
-- schema, no DDL, no TRUNCATE, and, not owning its tables, no way to drop or disable a
-- trigger, so the audit log's append-only trigger holds against intake itself.
\set ON_ERROR_STOP on
\if :{?role_prefix}
\else
  \set role_prefix bin_
\endif
\set migrate :role_prefix migrate
\set registry :role_prefix registry
\set intake :role_prefix intake
\set dispatch :role_prefix dispatch
\set digest :role_prefix digest
\set connectors :role_prefix connectors

SELECT format('CREATE ROLE %I LOGIN', name)
FROM unnest(ARRAY[:'migrate', :'registry', :'intake', :'dispatch', :'digest', :'connectors'])
    AS name
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name)
\gexec

-- Nobody else connects; nobody creates anything in the database or its public schema.
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME"
    TO :"migrate", :"registry", :"intake", :"dispatch", :"digest", :"connectors";
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- One schema per service, owned by bin_migrate; what the migrations create there later is
-- the service role's to use (default privileges), and so is what exists already.
CREATE SCHEMA IF NOT EXISTS registry AUTHORIZATION :"migrate";
GRANT USAGE ON SCHEMA registry TO :"registry";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA registry
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"registry";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA registry
    GRANT USAGE, SELECT ON SEQUENCES TO :"registry";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA registry TO :"registry";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA registry TO :"registry";

CREATE SCHEMA IF NOT EXISTS intake AUTHORIZATION :"migrate";
GRANT USAGE ON SCHEMA intake TO :"intake";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA intake
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"intake";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA intake
    GRANT USAGE, SELECT ON SEQUENCES TO :"intake";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA intake TO :"intake";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA intake TO :"intake";

CREATE SCHEMA IF NOT EXISTS dispatch AUTHORIZATION :"migrate";
GRANT USAGE ON SCHEMA dispatch TO :"dispatch";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA dispatch
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"dispatch";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA dispatch
    GRANT USAGE, SELECT ON SEQUENCES TO :"dispatch";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dispatch TO :"dispatch";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA dispatch TO :"dispatch";

CREATE SCHEMA IF NOT EXISTS digest AUTHORIZATION :"migrate";
GRANT USAGE ON SCHEMA digest TO :"digest";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA digest
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"digest";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA digest
    GRANT USAGE, SELECT ON SEQUENCES TO :"digest";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA digest TO :"digest";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA digest TO :"digest";

CREATE SCHEMA IF NOT EXISTS connectors AUTHORIZATION :"migrate";
GRANT USAGE ON SCHEMA connectors TO :"connectors";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA connectors
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"connectors";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrate" IN SCHEMA connectors
    GRANT USAGE, SELECT ON SEQUENCES TO :"connectors";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA connectors TO :"connectors";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA connectors TO :"connectors";

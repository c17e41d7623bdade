/* pgapi_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgapi_fdw" to load this file. \quit

CREATE FUNCTION pgapi_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION pgapi_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER pgapi_fdw
  HANDLER pgapi_fdw_handler
  VALIDATOR pgapi_fdw_validator;

-- The resources each API offers, with their columns: the same descriptor
-- tables the planner and IMPORT FOREIGN SCHEMA read.
CREATE FUNCTION pgapi_fdw_resources(
    OUT api text,
    OUT resource text,
    OUT column_name text,
    OUT column_type text,
    OUT api_field text,
    OUT key_column boolean,
    OUT required boolean,
    OUT pushed_operators text,
    OUT sortable boolean,
    OUT writable boolean,
    OUT description text)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- Runs a command (restart, promote, switchover) on a ClickHouse Cloud
-- Postgres service: PATCH .../postgres/{id}/state.  A remote write: never
-- retried, refused in a read-only transaction, not undone by ROLLBACK.
CREATE FUNCTION pgapi_fdw_service_command(server name, service_id text,
                                          command text)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Checks foreign tables of this wrapper when they are created or altered:
-- the resource must belong to the server's API and every column must be
-- one the resource knows (or carry a "field" option).
CREATE FUNCTION pgapi_fdw_check_tables()
RETURNS event_trigger
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE EVENT TRIGGER pgapi_fdw_check_tables
  ON ddl_command_end
  WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE',
               'IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION pgapi_fdw_check_tables();

-- Empty this backend's response cache (server option cache_ttl_ms);
-- returns the number of responses dropped.
CREATE FUNCTION pgapi_fdw_cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

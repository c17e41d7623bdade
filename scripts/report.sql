--
-- report.sql -- a first report over ClickHouse Cloud and pganalyze
--
-- Run by scripts/report.sh, which sets these psql variables:
--   use_ch, use_pga      on | off: which API sections to run
--   ch_url, pga_url      API base URLs
--   ch_org_id            optional ClickHouse organization id
--   ch_key_id, ch_key_secret, pga_key
--                        optional; when not given with -v they are read from
--                        CLICKHOUSE_KEY_ID, CLICKHOUSE_KEY_SECRET and
--                        PGANALYZE_API_KEY, so secrets stay off command lines
--
-- Nothing here echoes a secret: ECHO is off and no statement prints options.
--
\set ON_ERROR_STOP 1
\set QUIET 1
\pset footer off
-- quiet the DROP ... IF EXISTS notices of a first run
SET client_min_messages = warning;

\if :{?use_ch}
\else
\set use_ch on
\endif
\if :{?use_pga}
\else
\set use_pga on
\endif

CREATE EXTENSION IF NOT EXISTS pgapi_fdw;

\if :use_ch
\if :{?ch_key_id}
\else
\getenv ch_key_id CLICKHOUSE_KEY_ID
\endif
\if :{?ch_key_secret}
\else
\getenv ch_key_secret CLICKHOUSE_KEY_SECRET
\endif

DROP SERVER IF EXISTS ch CASCADE;
CREATE SERVER ch FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'ch_url');
\if :{?ch_org_id}
ALTER SERVER ch OPTIONS (ADD organization_id :'ch_org_id');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER ch
  OPTIONS (key_id :'ch_key_id', key_secret :'ch_key_secret');

CREATE SCHEMA IF NOT EXISTS ch;
CREATE FOREIGN TABLE ch.postgres_services (
    id text,
    name text,
    provider text,
    region text,
    postgres_version text,
    size text,
    ha_type text,
    state text,
    created_at timestamptz,
    is_primary boolean,
    tags jsonb
) SERVER ch OPTIONS (resource 'postgres_services');
CREATE FOREIGN TABLE ch.organizations (
    id text,
    name text,
    created_at timestamptz
) SERVER ch OPTIONS (resource 'organizations');
\endif

\if :use_pga
\if :{?pga_key}
\else
\getenv pga_key PGANALYZE_API_KEY
\endif

DROP SERVER IF EXISTS pga CASCADE;
CREATE SERVER pga FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'pganalyze', url :'pga_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER pga
  OPTIONS (api_key :'pga_key');
\endif

\if :use_ch
\echo
\echo '== ClickHouse Cloud: organizations =='
SELECT name, id, created_at
FROM ch.organizations
ORDER BY name, id;

\echo
\echo '== ClickHouse Cloud: Postgres services =='
SELECT name, state, provider, region, postgres_version, size, ha_type,
       is_primary, created_at
FROM ch.postgres_services
ORDER BY name, id;

\echo
\echo '== ClickHouse Cloud: services by state =='
SELECT state, count(*) AS services
FROM ch.postgres_services
GROUP BY state
ORDER BY state;
\endif

\if :use_pga
\echo
\echo '== pganalyze: server pga is configured =='
SELECT srvname AS server, array_to_string(srvoptions, ', ') AS options
FROM pg_foreign_server
WHERE srvname = 'pga';
\endif

--
-- report.sql -- a DBA's morning report over ClickHouse Cloud and pganalyze
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

-- every resource, from the descriptors
DROP SCHEMA IF EXISTS ch CASCADE;
CREATE SCHEMA ch;
IMPORT FOREIGN SCHEMA clickhouse_cloud FROM SERVER ch INTO ch;
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
DROP SCHEMA IF EXISTS pga CASCADE;
CREATE SCHEMA pga;
IMPORT FOREIGN SCHEMA pganalyze FROM SERVER pga INTO pga;
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
\echo '== ClickHouse Cloud: the 3 slowest query patterns of each service, last 24 hours =='
SELECT s.name AS service, p.query_id, p.db_name, p.call_count,
       round(p.total_duration_us / 1e6, 1) AS total_s,
       round(p.p99_duration_us / 1e3, 1) AS p99_ms,
       left(p.query_text, 50) AS query
FROM ch.postgres_services s
CROSS JOIN LATERAL (
    SELECT * FROM ch.slow_query_patterns p
    WHERE p.service_id = s.id AND p.from_date = now() - interval '1 day'
    ORDER BY p.total_duration_us DESC LIMIT 3) p
ORDER BY s.name, p.total_duration_us DESC;

\echo
\echo '== ClickHouse Cloud: max_connections per service =='
SELECT s.name AS service, c.value AS max_connections
FROM ch.postgres_services s
JOIN ch.postgres_config c ON c.service_id = s.id
WHERE c.section = 'pg_config' AND c.name = 'max_connections'
ORDER BY s.name;
\endif

\if :use_pga
\echo
\echo '== pganalyze: top queries of every database by share of runtime =='
SELECT d.datname, round(q.pct_of_total::numeric, 1) AS pct, q.total_calls,
       round(q.avg_time::numeric, 2) AS avg_ms, q.truncated_query
FROM pga.databases d
JOIN pga.query_stats q ON q.database_id = d.id
ORDER BY q.pct_of_total DESC
LIMIT 10;

\echo
\echo '== pganalyze: open check-up issues =='
SELECT i.severity, i.description
FROM pga.issues i
WHERE i.state = 'triggered'
ORDER BY CASE i.severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, i.id;
\endif

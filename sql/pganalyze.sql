--
-- pganalyze over GraphQL: projection, batching, joins and errors.  Every
-- request body is checked in the simulator's journal.
--
SELECT sim_reset();
\getenv pga_url PGAPI_SIM_GRAPHQL_URL

CREATE SERVER pga FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', url :'pga_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER pga OPTIONS (api_key 'CANARY-KEY-7f3a');
CREATE SCHEMA pga;
CREATE FOREIGN TABLE pga.servers (
    id text, human_id text, name text, system_type text, system_scope text,
    system_id text, last_snapshot_at timestamptz, organization_slug text,
    with_recent_data boolean
) SERVER pga OPTIONS (resource 'servers');
CREATE FOREIGN TABLE pga.databases (
    server_id text, server_human_id text, id text, datname text, display_name text
) SERVER pga OPTIONS (resource 'databases');
CREATE FOREIGN TABLE pga.query_stats (
    database_id text, start_ts timestamptz, end_ts timestamptz,
    id text, query_url text, normalized_query text, truncated_query text,
    query_comment text, statement_types text[], table_names text[],
    total_calls bigint, avg_time double precision, avg_io_time double precision,
    buffer_hit_ratio double precision, pct_of_total double precision
) SERVER pga OPTIONS (resource 'query_stats');
CREATE FOREIGN TABLE pga.issues (
    server_human_id text, database_id text, id text, description text,
    severity text, state text, "references" jsonb
) SERVER pga OPTIONS (resource 'issues');

-- The GraphQL document and variables of each request
-- (the default window's Unix times depend on when the test runs: <ts>)
CREATE FUNCTION gql_requests(since bigint)
RETURNS TABLE (query text, variables text) LANGUAGE sql AS $$
    SELECT j->'graphql'->>'query',
           regexp_replace((j->'graphql'->'variables')::text,
                          '("d\d+_(startTs|endTs)"): \d+', '\1: <ts>', 'g')
    FROM sim_journal() j WHERE (j->>'seq')::bigint > since
    ORDER BY (j->>'seq')::bigint
$$;

-- servers and databases
SELECT sim_mark() AS m \gset
SELECT id, human_id, name, system_type, last_snapshot_at FROM pga.servers ORDER BY name;
SELECT * FROM gql_requests(:m);
SELECT sim_mark() AS m \gset
SELECT server_id, id, datname FROM pga.databases ORDER BY id;
SELECT * FROM gql_requests(:m);
-- arguments are variables, never spliced into the document
SELECT sim_mark() AS m \gset
SELECT name FROM pga.servers WHERE system_type = 'amazon_rds' AND with_recent_data;
SELECT * FROM gql_requests(:m);

-- query_stats: the selection holds only the needed fields; tableNames
-- only when table_names is used
SELECT sim_mark() AS m \gset
EXPLAIN (VERBOSE, COSTS OFF)
SELECT truncated_query, pct_of_total FROM pga.query_stats WHERE database_id = '12345';
SELECT truncated_query, pct_of_total FROM pga.query_stats
WHERE database_id = '12345' AND start_ts = '2026-05-24 00:00:00+00' AND end_ts = '2026-05-25 00:00:00+00'
ORDER BY pct_of_total DESC LIMIT 2;
SELECT id, statement_types, table_names FROM pga.query_stats
WHERE database_id = '12345' AND start_ts = '2026-05-24 00:00:00+00' AND end_ts = '2026-05-25 00:00:00+00'
ORDER BY id LIMIT 2;
SELECT * FROM gql_requests(:m);

-- several database ids: one document with aliased root fields
SELECT sim_mark() AS m \gset
SELECT database_id, count(*) FROM pga.query_stats
WHERE database_id IN ('12345', '12346', '22222') GROUP BY 1 ORDER BY 1;
SELECT count(*) AS requests, max(query) FROM gql_requests(:m);

-- the older field name through the column option
CREATE FOREIGN TABLE pga.query_stats_legacy (
    database_id text, id text, statement_type text[] OPTIONS (field 'statementType')
) SERVER pga OPTIONS (resource 'query_stats');
SELECT sim_post('config', '{"pganalyze_legacy": true}');
SELECT id, statement_type FROM pga.query_stats_legacy WHERE database_id = '12345' ORDER BY id LIMIT 2;
SELECT sim_reset();

-- required key: a clear error with an example
SELECT count(*) FROM pga.query_stats;

-- databases JOIN query_stats: one getServers, then one document asking
-- for the query stats of every database at once
SELECT sim_mark() AS m \gset
EXPLAIN (VERBOSE, COSTS OFF)
SELECT d.datname, q.truncated_query, q.pct_of_total
FROM pga.databases d JOIN pga.query_stats q ON q.database_id = d.id
ORDER BY q.pct_of_total DESC LIMIT 20;
SELECT d.datname, q.truncated_query, q.pct_of_total
FROM pga.databases d JOIN pga.query_stats q ON q.database_id = d.id
ORDER BY q.pct_of_total DESC LIMIT 20;
SELECT count(*) AS requests FROM gql_requests(:m);
SELECT * FROM gql_requests(:m);
-- the same rows as the same query over local copies of the data
CREATE TEMP TABLE dbs AS SELECT * FROM pga.databases;
CREATE TEMP TABLE qs AS SELECT * FROM pga.query_stats WHERE database_id IN ('12345', '12346', '22222');
SELECT count(*) AS differences FROM (
  (SELECT d.datname, q.truncated_query, q.pct_of_total
   FROM pga.databases d JOIN pga.query_stats q ON q.database_id = d.id
   ORDER BY q.pct_of_total DESC LIMIT 20)
  EXCEPT ALL
  (SELECT d.datname, q.truncated_query, q.pct_of_total
   FROM dbs d JOIN qs q ON q.database_id = d.id
   ORDER BY q.pct_of_total DESC LIMIT 20)) x;
SELECT count(*) AS local_rows FROM (SELECT d.datname FROM dbs d JOIN qs q ON q.database_id = d.id LIMIT 20) x;
-- a local filter on the driving side: only the matching database is asked for
SELECT sim_mark() AS m \gset
SELECT d.datname, count(*) FROM pga.databases d JOIN pga.query_stats q ON q.database_id = d.id
WHERE d.datname = 'app' GROUP BY 1;
SELECT variables FROM gql_requests(:m);

-- issues: severity IN is one list argument; no server or database: every server's
SELECT sim_mark() AS m \gset
SELECT id, severity, state FROM pga.issues
WHERE server_human_id = 'bdp4m73ysjgefke7i2dgkenzi4' AND severity IN ('warning', 'critical')
ORDER BY id;
SELECT id, "references" -> 0 ->> 'kind' AS kind FROM pga.issues WHERE database_id = '12345' ORDER BY id;
SELECT count(*) > 0 AS some FROM pga.issues;
SELECT * FROM gql_requests(:m);

-- GraphQL errors arrive with HTTP 200: an error, never half a result
\set VERBOSITY default
SELECT count(*) FROM pga.query_stats WHERE database_id IN ('12345', '999999');
ALTER USER MAPPING FOR CURRENT_USER SERVER pga OPTIONS (SET api_key 'wrong');
SELECT count(*) FROM pga.servers;
ALTER USER MAPPING FOR CURRENT_USER SERVER pga OPTIONS (SET api_key 'CANARY-KEY-7f3a');

-- ids sent as numbers or strings both convert
SELECT id, database_id FROM pga.issues WHERE server_human_id = 'bdp4m73ysjgefke7i2dgkenzi4' ORDER BY id LIMIT 2;

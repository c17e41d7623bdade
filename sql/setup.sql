--
-- Test set-up: the extension, helpers that talk to the API simulator, and
-- the servers, mappings and tables the other tests use.
--
-- The simulator's URL and journal path come from the environment, so that
-- no host:port ever appears in expected output.
--
\getenv sim_url PGAPI_SIM_URL
\getenv sim_journal PGAPI_SIM_JOURNAL

CREATE EXTENSION pgapi_fdw;

-- Later sessions of this database see these settings too.
SELECT current_database() AS dbname \gset
ALTER DATABASE :"dbname" SET pgapi_test.sim_url = :'sim_url';
ALTER DATABASE :"dbname" SET pgapi_test.journal = :'sim_journal';
SELECT set_config('pgapi_test.sim_url', :'sim_url', false) IS NOT NULL AS ok;
SELECT set_config('pgapi_test.journal', :'sim_journal', false) IS NOT NULL AS ok;

-- POST a JSON body to a simulator control endpoint (/__mock/...).
CREATE FUNCTION sim_post(endpoint text, body jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    payload text := translate(encode(convert_to(body::text, 'UTF8'), 'base64'), E'\n', '');
    result text;
BEGIN
    IF to_regclass('pg_temp.sim_out') IS NULL THEN
        CREATE TEMP TABLE sim_out (line text);
    END IF;
    TRUNCATE sim_out;
    EXECUTE format('COPY sim_out FROM PROGRAM %L',
                   format('echo %s | base64 -d | curl -sS -X POST -H "Content-Type: application/json" --data-binary @- %s/__mock/%s',
                          payload, current_setting('pgapi_test.sim_url'), endpoint));
    SELECT string_agg(line, '') INTO result FROM sim_out;
    RETURN result::jsonb;
END;
$$;

-- Inject a fault: sim_fault('{"match": {...}, "action": {...}, "times": n}')
CREATE FUNCTION sim_fault(spec jsonb) RETURNS void LANGUAGE sql AS $$
    SELECT sim_post('fault', spec);
$$;

CREATE FUNCTION sim_reset() RETURNS void LANGUAGE sql AS $$
    SELECT sim_post('reset');
$$;

-- Every request the simulator has seen, as logged in its journal.
CREATE FUNCTION sim_journal() RETURNS SETOF jsonb LANGUAGE sql AS $$
    SELECT l::jsonb
    FROM regexp_split_to_table(pg_read_file(current_setting('pgapi_test.journal')), E'\n') AS l
    WHERE l <> ''
$$;

CREATE FUNCTION sim_mark() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(max((j->>'seq')::bigint), 0) FROM sim_journal() AS j
$$;

-- Requests made since a mark, in a stable order (concurrent requests may
-- arrive in any order).  Timestamps that depend on when the test runs show
-- as <time>; tests that care about a window's value check it separately.
CREATE FUNCTION sim_requests(since bigint)
RETURNS TABLE (method text, path text, query text) LANGUAGE sql AS $$
    SELECT j->>'method', j->>'path',
           regexp_replace(nullif(j->>'query', ''),
                          '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', '<time>', 'g')
    FROM sim_journal() AS j
    WHERE (j->>'seq')::bigint > since
    ORDER BY 2, 3, 1
$$;

-- The raw query strings, for the tests that check a window's value.
CREATE FUNCTION sim_queries(since bigint) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT j->>'query' FROM sim_journal() AS j
    WHERE (j->>'seq')::bigint > since ORDER BY (j->>'seq')::bigint
$$;

-- Requests in arrival order, with the connection they came on.
CREATE FUNCTION sim_requests_ordered(since bigint)
RETURNS TABLE (seq bigint, method text, path text, query text, status int)
LANGUAGE sql AS $$
    SELECT (j->>'seq')::bigint - since, j->>'method', j->>'path',
           nullif(j->>'query', ''), (j->>'status')::int
    FROM sim_journal() AS j
    WHERE (j->>'seq')::bigint > since
    ORDER BY (j->>'seq')::bigint
$$;

-- EXPLAIN (VERBOSE, COSTS OFF) of a query, with the timestamps that depend
-- on when the test runs shown as <time>.
CREATE FUNCTION explain(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
        RETURN NEXT regexp_replace(l, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', '<time>', 'g');
    END LOOP;
END;
$$;

SELECT sim_reset();

-- The ClickHouse Cloud server used by most tests.  The client-side rate
-- limit is raised so that tests do not wait for it.
CREATE SERVER ch FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'sim_url', requests_per_window '100000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch
  OPTIONS (key_id 'test-key', key_secret 'CANARY-KEY-7f3a');

CREATE SCHEMA ch;

CREATE FOREIGN TABLE ch.organizations (
    id text,
    name text,
    created_at timestamptz,
    enable_core_dumps boolean
) SERVER ch OPTIONS (resource 'organizations');

CREATE FOREIGN TABLE ch.postgres_services (
    id text,
    name text,
    provider text,
    region text,
    postgres_version text,
    size text,
    storage_size integer,
    ha_type text,
    tags jsonb,
    state text,
    created_at timestamptz,
    is_primary boolean,
    hostname text,
    username text,
    connection_string text
) SERVER ch OPTIONS (resource 'postgres_services');

CREATE FOREIGN TABLE ch.slow_query_patterns (
    service_id text,
    from_date timestamptz,
    to_date timestamptz,
    query_id bigint,
    query_text text,
    db_name text,
    db_user text,
    db_operation text,
    app text,
    call_count bigint,
    error_count bigint,
    total_duration_us bigint,
    avg_duration_us bigint,
    max_duration_us bigint,
    p50_duration_us bigint,
    p95_duration_us bigint,
    p99_duration_us bigint,
    total_rows bigint,
    total_shared_blks_read bigint,
    total_shared_blks_hit bigint,
    total_cpu_time_us bigint,
    total_wal_bytes bigint
) SERVER ch OPTIONS (resource 'slow_query_patterns');

CREATE FOREIGN TABLE ch.slow_query_executions (
    service_id text,
    query_id bigint,
    db_name text,
    db_user text,
    db_operation text,
    app text,
    "timestamp" timestamptz,
    query_text text,
    pid text,
    duration_us bigint,
    rows bigint,
    shared_blks_hit bigint,
    shared_blks_read bigint,
    cpu_user_time_us bigint,
    cpu_sys_time_us bigint,
    wal_bytes bigint,
    err_message text,
    err_sqlstate text,
    err_elevel integer,
    server_role text,
    trace_id text
) SERVER ch OPTIONS (resource 'slow_query_executions');

CREATE FOREIGN TABLE ch.postgres_config (
    service_id text,
    section text,
    name text,
    value text
) SERVER ch OPTIONS (resource 'postgres_config');

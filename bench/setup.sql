--
-- setup.sql -- objects for bench/run.sh (not a test)
--
-- psql variables: sim_url, org.  Creates pgapi_fdw's server, mapping and
-- table, the `http` extension and the PL/pgSQL paging loop that stands for
-- what a user writes today, and bench_hwm() (backend peak memory in kB).
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DROP EXTENSION IF EXISTS pgapi_fdw CASCADE;
DROP EXTENSION IF EXISTS http CASCADE;
CREATE EXTENSION pgapi_fdw;
CREATE EXTENSION http;

CREATE SERVER ch FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'sim_url', organization_id :'org',
           requests_per_window '1000000', max_pages '100000',
           max_concurrency '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch
  OPTIONS (key_id 'bench-key', key_secret 'bench-secret');

DROP SCHEMA IF EXISTS ch CASCADE;
CREATE SCHEMA ch;
IMPORT FOREIGN SCHEMA clickhouse_cloud LIMIT TO (slow_query_patterns)
  FROM SERVER ch INTO ch;

-- Backend peak resident memory (VmHWM), in kB.
CREATE OR REPLACE FUNCTION bench_hwm() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                         'VmHWM:\s+(\d+)'))[1]::bigint
$$;

-- What a user does today: page with limit/offset over one keep-alive
-- connection of the `http` extension, turning each page into rows with
-- jsonb_to_recordset.  RETURN QUERY appends to the function's tuplestore,
-- which spills to a temporary file past work_mem.
CREATE OR REPLACE FUNCTION http_patterns(base text, path text, max_rows bigint DEFAULT NULL)
RETURNS TABLE (query_id bigint, query_text text, db_name text, db_user text,
               db_operation text, app text, call_count bigint, error_count bigint,
               total_duration_us bigint, avg_duration_us bigint,
               max_duration_us bigint, p50_duration_us bigint,
               p95_duration_us bigint, p99_duration_us bigint, total_rows bigint,
               total_shared_blks_read bigint, total_shared_blks_hit bigint,
               total_cpu_time_us bigint, total_wal_bytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
    page_size int := 500;
    off bigint := 0;
    n int;
    resp http_response;
    auth http_header[] := ARRAY[http_header('Authorization',
        'Basic ' || encode(convert_to('bench-key:bench-secret', 'UTF8'), 'base64'))];
BEGIN
    PERFORM set_config('http.curlopt_tcp_keepalive', '1', true);
    LOOP
        IF max_rows IS NOT NULL THEN
            page_size := least(500, max_rows - off);
            EXIT WHEN page_size <= 0;
        END IF;
        resp := http(('GET', base || path || '&limit=' || page_size || '&offset=' || off,
                      auth, NULL, NULL)::http_request);
        IF resp.status <> 200 THEN
            RAISE EXCEPTION 'HTTP % at offset %', resp.status, off;
        END IF;
        RETURN QUERY
            SELECT * FROM jsonb_to_recordset(resp.content::jsonb -> 'result') AS x(
                "queryId" bigint, "queryText" text, "dbName" text, "dbUser" text,
                "dbOperation" text, app text, "callCount" bigint, "errorCount" bigint,
                "totalDurationUs" bigint, "avgDurationUs" bigint,
                "maxDurationUs" bigint, "p50DurationUs" bigint,
                "p95DurationUs" bigint, "p99DurationUs" bigint, "totalRows" bigint,
                "totalSharedBlksRead" bigint, "totalSharedBlksHit" bigint,
                "totalCpuTimeUs" bigint, "totalWalBytes" bigint);
        GET DIAGNOSTICS n = ROW_COUNT;
        off := off + n;
        EXIT WHEN n < page_size;
    END LOOP;
END;
$$;

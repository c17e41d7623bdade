--
-- setup.sql -- the database the pgbench load suite (suites/load.sh) runs in
--
-- psql variables: sim_url, pga_url, rate_n, rate_ms (the client-side rate
-- limit of every key).  Three keys, each with its own shared token bucket:
-- load-key (ClickHouse, the bulk of the load), load-slow (ClickHouse, the
-- requests that statement_timeout cancels) and load-pga (pganalyze).
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION pgapi_fdw;

CREATE SERVER ch FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'sim_url',
           requests_per_window :'rate_n', rate_window_ms :'rate_ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch
  OPTIONS (key_id 'load-key', key_secret 'CANARY-KEY-7f3a');
CREATE SCHEMA ch;
IMPORT FOREIGN SCHEMA clickhouse_cloud FROM SERVER ch INTO ch;

CREATE SERVER ch_slow FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'sim_url',
           organization_id '5c6a4f0e-2b1d-4c9e-9a63-7d2f1e8b4a10',
           requests_per_window :'rate_n', rate_window_ms :'rate_ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_slow
  OPTIONS (key_id 'load-slow', key_secret 'CANARY-KEY-7f3a');
CREATE SCHEMA ch_slow;
IMPORT FOREIGN SCHEMA clickhouse_cloud LIMIT TO (postgres_services)
  FROM SERVER ch_slow INTO ch_slow;

CREATE SERVER pga FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'pganalyze', url :'pga_url',
           requests_per_window :'rate_n', rate_window_ms :'rate_ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER pga
  OPTIONS (api_key 'load-pga-CANARY-KEY-7f3a');
CREATE SCHEMA pga;
IMPORT FOREIGN SCHEMA pganalyze FROM SERVER pga INTO pga;

-- Local tables to join with.  load_ids: the simulator's two services and
-- one unknown id (its GET is a 404: no row).
CREATE TABLE load_ids (n int PRIMARY KEY, id text NOT NULL);
INSERT INTO load_ids VALUES
    (1, 'f71df78e-ddad-82d0-8dfa-abbec741b82e'),
    (2, '0c330583-6396-86d0-82cd-ed0f23b0d38c'),
    (3, '00000000-0000-4000-8000-000000000000');
CREATE TABLE load_owners (service_id text PRIMARY KEY, owner text NOT NULL);
INSERT INTO load_owners VALUES
    ('f71df78e-ddad-82d0-8dfa-abbec741b82e', 'payments team'),
    ('0c330583-6396-86d0-82cd-ed0f23b0d38c', 'reporting team');
ANALYZE load_ids, load_owners;

-- The statements of the load, by kind.  $1 is the argument the pgbench
-- script passes (a service id, or NULL).
CREATE TABLE load_queries (kind text PRIMARY KEY, q text NOT NULL);
INSERT INTO load_queries VALUES
    -- point lookup: one GET (404 for the unknown id)
    ('point', $q$SELECT name, state, hostname FROM ch.postgres_services WHERE id = $1$q$),
    -- IN list: one GET per value
    ('in_list', $q$SELECT id, name FROM ch.postgres_services
      WHERE id IN ('f71df78e-ddad-82d0-8dfa-abbec741b82e', '0c330583-6396-86d0-82cd-ed0f23b0d38c',
                   '00000000-0000-4000-8000-000000000000')$q$),
    -- fan-out: list the services, then each one's configuration
    ('fanout', $q$SELECT service_id, section, name, value FROM ch.postgres_config$q$),
    -- ORDER BY ... LIMIT pushed as sort_by/sort_order/limit
    ('top_n', $q$SELECT query_id, total_duration_us FROM ch.slow_query_patterns
      WHERE service_id = $1 ORDER BY total_duration_us DESC LIMIT 2$q$),
    -- local JOIN foreign JOIN foreign: parameterized by the local rows
    ('local_join', $q$SELECT o.owner, s.name, p.query_id, p.total_duration_us
      FROM load_owners o
      JOIN ch.postgres_services s ON s.id = o.service_id
      JOIN ch.slow_query_patterns p ON p.service_id = o.service_id$q$),
    -- foreign JOIN foreign: executions of the outer patterns only
    ('foreign_join', $q$SELECT p.query_id, e."timestamp", e.duration_us
      FROM ch.slow_query_patterns p
      JOIN ch.slow_query_executions e
        USING (service_id, query_id, db_name, db_user, db_operation)
      WHERE p.service_id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e'
        AND p.total_duration_us > 300000000$q$),
    -- pganalyze: databases, then one batched getQueryStats document
    ('pga_stats', $q$SELECT d.datname, q.id, q.total_calls, q.pct_of_total
      FROM pga.databases d JOIN pga.query_stats q ON q.database_id = d.id$q$),
    -- pganalyze issues of a database
    ('pga_issues', $q$SELECT id, severity FROM pga.issues WHERE database_id = '12345'$q$),
    -- one request that statement_timeout cancels when the simulator
    -- delays or trickles the answer (key load-slow)
    ('cancel', $q$SELECT id, name, state FROM ch_slow.postgres_services$q$);

-- The row count of each statement without faults, from a run before the
-- load: under load a statement returns exactly these rows or an error.
CREATE TABLE load_expected (kind text, arg text, nrows bigint NOT NULL);

-- One row per statement the load ran: its kind, outcome (ok, or the
-- SQLSTATE of an expected error), rows, time, and the error text.
CREATE TABLE load_log (
    kind text NOT NULL,
    arg text,
    outcome text NOT NULL,
    nrows bigint,
    ms double precision NOT NULL,
    message text,
    detail text,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);

--
-- load_run(kind, arg): run the kind's statement, record its outcome, and
-- return the row count (-1 after an expected error).
--
-- Expected errors are caught and recorded: 57014 (statement_timeout; only
-- for kind 'cancel'), HV000 (429/5xx after retries, API errors) and HV00N
-- (transport).  Anything else, XX000 included, is raised again, so that
-- pgbench aborts the client and the suite fails.
--
-- statement_timeout covers the whole top-level statement, so it may also
-- fire after the inner block, while the outcome is being recorded; the
-- outer block records it then.  A statement timeout fires once per
-- statement, so the recording in the handler is not interrupted again.
--
CREATE FUNCTION load_run(p_kind text, p_arg text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    q text;
    t0 timestamptz := clock_timestamp();
    n bigint := -1;
    outcome text := 'ok';
    msg text;
    det text;
    expected text[] := ARRAY['HV000', 'HV00N'];
BEGIN
    SELECT l.q INTO STRICT q FROM load_queries l WHERE l.kind = p_kind;
    IF p_kind = 'cancel' THEN
        expected := expected || '57014'::text;
    END IF;
    BEGIN
        BEGIN
            EXECUTE format('SELECT count(*) FROM (%s) s', q) INTO n USING p_arg;
        EXCEPTION WHEN query_canceled OR others THEN
            GET STACKED DIAGNOSTICS outcome = RETURNED_SQLSTATE,
                                    msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
            IF NOT outcome = ANY (expected) THEN
                RAISE;
            END IF;
            n := -1;
        END;
        INSERT INTO load_log VALUES (p_kind, p_arg, outcome, n,
            extract(epoch FROM clock_timestamp() - t0) * 1000, msg, det);
    EXCEPTION WHEN query_canceled THEN
        IF p_kind <> 'cancel' THEN
            RAISE;
        END IF;
        INSERT INTO load_log VALUES (p_kind, p_arg, 'late_57014', n,
            extract(epoch FROM clock_timestamp() - t0) * 1000, msg, det);
    END;
    RETURN n;
END;
$$;

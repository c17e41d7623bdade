--
-- pg_cron: a real pg_cron job (the test cluster preloads pg_cron) stores
-- the daily top slow query patterns of every service into a local
-- history table.  pg_cron lives in the database named by
-- cron.database_name ("postgres" here); cron.schedule_in_database() runs
-- the job in this test's database, as the scheduling user, over libpq, so
-- that user needs a user mapping (setup.sql made one for CURRENT_USER).
--
SELECT sim_reset();
SELECT current_database() AS regress_db \gset

CREATE TABLE slow_query_history (
    day               date NOT NULL DEFAULT current_date,
    service_id        text NOT NULL,
    rank              int NOT NULL,
    query_id          bigint NOT NULL,
    db_name           text,
    query_text        text,
    call_count        bigint,
    total_duration_us bigint,
    PRIMARY KEY (day, service_id, rank)
);

-- the job's statement: per service, the 3 slowest patterns of the last
-- day; sort and limit go to the API, one request per service
\set report 'INSERT INTO slow_query_history (service_id, rank, query_id, db_name, query_text, call_count, total_duration_us) SELECT s.id, row_number() OVER (PARTITION BY s.id ORDER BY p.total_duration_us DESC, p.query_id), p.query_id, p.db_name, p.query_text, p.call_count, p.total_duration_us FROM ch.postgres_services s CROSS JOIN LATERAL (SELECT * FROM ch.slow_query_patterns p WHERE p.service_id = s.id AND p.from_date = now() - interval ''1 day'' ORDER BY p.total_duration_us DESC LIMIT 3) p'
SELECT explain(:'report');

SELECT sim_mark() AS m \gset

-- schedule it from pg_cron's database, to run in ours at the next minute
\c postgres
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
RESET client_min_messages;
SELECT extversion >= '1.4' AS cron_schedule_in_database FROM pg_extension WHERE extname = 'pg_cron';
SELECT cron.schedule_in_database('pgapi-slow-query-history', '* * * * *', :'report',
                                 :'regress_db') AS jobid \gset

-- wait (at most 90 s) for the first run to finish
CREATE FUNCTION pg_temp.wait_for_job(job bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text;
BEGIN
    FOR i IN 1..90 LOOP
        SELECT status INTO st FROM cron.job_run_details
        WHERE jobid = job AND status IN ('succeeded', 'failed')
        ORDER BY runid LIMIT 1;
        IF FOUND THEN
            RETURN st;
        END IF;
        PERFORM pg_sleep(1);
    END LOOP;
    RETURN 'timed out';
END;
$$;
SELECT pg_temp.wait_for_job(:jobid) AS status;
SELECT status, return_message, database = :'regress_db' AS in_test_db, username = current_user AS as_scheduler
FROM cron.job_run_details WHERE jobid = :jobid ORDER BY runid LIMIT 1;
SELECT cron.unschedule(:jobid);
SELECT count(*) AS jobs_left FROM cron.job WHERE jobname = 'pgapi-slow-query-history';

\c :regress_db
-- what the job wrote
SELECT day = current_date AS today, service_id, rank, query_id, db_name, call_count, total_duration_us
FROM slow_query_history ORDER BY service_id, rank;
-- the requests it made: the services, then one request per service with
-- the window (the last day, as sent), sort and limit
SELECT * FROM sim_requests(:m);
SELECT bool_and(q ~ '^from_date=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z&to_date=') AS window_sent,
       bool_and((substring(q from 'to_date=([^&]+)')::timestamptz
                 - substring(q from 'from_date=([^&]+)')::timestamptz) = interval '1 day') AS one_day
FROM sim_queries(:m) AS q WHERE q <> '';

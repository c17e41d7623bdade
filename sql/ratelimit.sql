--
-- The client-side rate limit is shared by all backends (the cluster
-- preloads the library): a second session waits for the first one's
-- requests to leave the window, because the API limits the key, not the
-- session.
--
SELECT sim_reset();
\getenv sim_url PGAPI_SIM_URL
SELECT current_setting('shared_preload_libraries') LIKE '%pgapi_fdw%' AS preloaded;
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE SERVER ch_rl FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'sim_url',
           organization_id '5c6a4f0e-2b1d-4c9e-9a63-7d2f1e8b4a10',
           requests_per_window '2', rate_window_ms '3000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_rl
  OPTIONS (key_id 'rate-key', key_secret 'rate-secret');
CREATE FOREIGN TABLE rl_services (id text) SERVER ch_rl
  OPTIONS (resource 'postgres_services');

-- this session sends the key's two requests of the window at once
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM rl_services;
SELECT count(*) FROM rl_services;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1 second' AS no_wait;

-- another session with the same key waits until those two requests are
-- a window (3 s) old
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS conninfo \gset
SELECT clock_timestamp() AS t1 \gset
SELECT n FROM dblink(:'conninfo', 'SELECT count(*) FROM rl_services') AS t(n bigint);
SELECT clock_timestamp() - :'t1'::timestamptz > interval '1 second' AS waited_for_token;

-- the wait is interruptible: statement_timeout ends it with 57014
SELECT count(*) FROM rl_services;
SET statement_timeout = '300ms';
SELECT count(*) FROM rl_services;
RESET statement_timeout;

DROP SERVER ch_rl CASCADE;
DROP EXTENSION dblink;

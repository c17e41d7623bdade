--
-- The response cache: identical reads within cache_ttl_ms cost no request,
-- never across user mappings, and pgapi_fdw_cache_clear() empties it.  The
-- test cluster preloads the library, so the cache is the one in shared
-- memory, serving every backend.
--
SELECT sim_reset();
\getenv sim_url PGAPI_SIM_URL
CREATE SERVER ch_cache FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'sim_url', requests_per_window '100000',
           organization_id '5c6a4f0e-2b1d-4c9e-9a63-7d2f1e8b4a10',
           cache_ttl_ms '60000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_cache
  OPTIONS (key_id 'test-key', key_secret 'CANARY-KEY-7f3a');
CREATE FOREIGN TABLE cached_services (id text, name text, state text)
  SERVER ch_cache OPTIONS (resource 'postgres_services');

-- the first query asks, the second is answered from the cache
SELECT sim_mark() AS m \gset
SELECT name FROM cached_services ORDER BY name;
SELECT name FROM cached_services ORDER BY name;
SELECT * FROM sim_requests(:m);
CREATE FUNCTION explain_counters(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF l ~ 'API Requests' THEN
            RETURN NEXT regexp_replace(l, 'Bytes: \d+', 'Bytes: N');
        END IF;
    END LOOP;
END;
$$;
SELECT explain_counters('SELECT name FROM cached_services');

-- another request is another entry
SELECT sim_mark() AS m \gset
SELECT name FROM cached_services WHERE id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e';
SELECT name FROM cached_services WHERE id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e';
SELECT * FROM sim_requests(:m);

-- clearing the cache: the next query asks again
SELECT pgapi_fdw_cache_clear() > 0 AS cleared;
SELECT sim_mark() AS m \gset
SELECT count(*) FROM cached_services;
SELECT * FROM sim_requests(:m);

-- another user mapping never gets this mapping's responses
CREATE ROLE pgapi_cache_user;
GRANT SELECT ON cached_services TO pgapi_cache_user;
GRANT USAGE ON FOREIGN SERVER ch_cache TO pgapi_cache_user;
CREATE USER MAPPING FOR pgapi_cache_user SERVER ch_cache
  OPTIONS (key_id 'other-key', key_secret 'other-secret');
SELECT sim_mark() AS m \gset
SET ROLE pgapi_cache_user;
SELECT count(*) FROM cached_services;
RESET ROLE;
SELECT count(*) AS requests, count(DISTINCT j->>'auth_sha256') AS keys
FROM sim_journal() j WHERE (j->>'seq')::bigint > :m;

-- changing the server drops its entries; a short TTL expires
ALTER SERVER ch_cache OPTIONS (SET cache_ttl_ms '200');
SELECT sim_mark() AS m \gset
SELECT count(*) FROM cached_services;
SELECT count(*) FROM cached_services;
SELECT pg_sleep(0.3);
SELECT count(*) FROM cached_services;
SELECT count(*) AS requests FROM sim_requests(:m);

-- errors are not cached
ALTER SERVER ch_cache OPTIONS (SET cache_ttl_ms '60000');
SELECT sim_fault('{"match": {"path": "/postgres$"}, "action": {"status": 400}}');
\set VERBOSITY terse
SELECT count(*) FROM cached_services;
\set VERBOSITY default
SELECT sim_mark() AS m \gset
SELECT count(*) FROM cached_services;
SELECT count(*) FROM cached_services;
SELECT count(*) AS requests FROM sim_requests(:m);

-- the cache is shared by the backends of the cluster: another session with
-- the same user mapping is answered from it
SELECT current_setting('pgapi_fdw.shared_cache_size') AS shared_cache_size;
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS conninfo \gset
SELECT pgapi_fdw_cache_clear() >= 0 AS cleared;
SELECT sim_mark() AS m \gset
SELECT count(*) FROM cached_services;
SELECT n FROM dblink(:'conninfo', 'SELECT count(*) FROM cached_services') AS t(n bigint);
SELECT count(*) AS requests FROM sim_requests(:m);

-- another session empties it for everyone
SELECT n > 0 AS cleared_elsewhere
FROM dblink(:'conninfo', 'SELECT pgapi_fdw_cache_clear()') AS t(n bigint);
SELECT sim_mark() AS m \gset
SELECT count(*) FROM cached_services;
SELECT count(*) AS requests FROM sim_requests(:m);

-- an ALTER SERVER in another session starts afresh here too
SELECT dblink_exec(:'conninfo', 'ALTER SERVER ch_cache OPTIONS (ADD timeout_ms ''20000'')');
SELECT sim_mark() AS m \gset
SELECT count(*) FROM cached_services;
SELECT count(*) FROM cached_services;
SELECT count(*) AS requests FROM sim_requests(:m);
DROP EXTENSION dblink;

DROP USER MAPPING FOR pgapi_cache_user SERVER ch_cache;
REVOKE ALL ON cached_services FROM pgapi_cache_user;
REVOKE USAGE ON FOREIGN SERVER ch_cache FROM pgapi_cache_user;
DROP ROLE pgapi_cache_user;
DROP FUNCTION explain_counters(text);
DROP SERVER ch_cache CASCADE;

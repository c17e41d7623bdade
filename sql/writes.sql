--
-- Writes: INSERT/UPDATE/DELETE on postgres_services, UPDATE on
-- postgres_config, pgapi_fdw_service_command, and every refusal (each
-- asserted to send no request).
--
SELECT sim_reset();

-- an updatable table with every column, RETURNING password included
CREATE FOREIGN TABLE ch.services_rw (
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
    is_primary boolean,
    hostname text,
    connection_string text,
    password text
) SERVER ch OPTIONS (resource 'postgres_services', updatable 'true');

CREATE FOREIGN TABLE ch.config_rw (
    service_id text,
    section text,
    name text,
    value text
) SERVER ch OPTIONS (resource 'postgres_config', updatable 'true');

-- the organization is discovered once per session
SELECT count(*) > 0 AS ok FROM ch.organizations;

-- The request bodies sent since a mark, in order; the random correlation
-- tag of a create (N7) is masked
CREATE FUNCTION mask_tag(t text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(t, '("key": ?"pgapi_fdw_request", ?"value": ?")[0-9a-f-]{36}"',
                          '\1<uuid>"', 'g')
$$;
CREATE FUNCTION sim_writes(since bigint)
RETURNS TABLE (method text, path text, body text) LANGUAGE sql AS $$
    SELECT j->>'method', j->>'path', mask_tag(nullif(j->>'body', ''))
    FROM sim_journal() AS j
    WHERE (j->>'seq')::bigint > since
    ORDER BY (j->>'seq')::bigint
$$;

-- which operations PostgreSQL sees as possible
SELECT c, pg_relation_is_updatable(c, false) AS events
FROM unnest(ARRAY['ch.postgres_services', 'ch.services_rw', 'ch.config_rw']::regclass[]) AS c;

-- EXPLAIN sends nothing (W3)
SELECT sim_mark() AS m \gset
EXPLAIN (VERBOSE, COSTS OFF)
INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('x', 'aws', 'us-east-1', 'r8gd.large');
EXPLAIN (VERBOSE, COSTS OFF)
UPDATE ch.services_rw SET size = 'r8gd.xlarge' WHERE id = 'abc';
EXPLAIN (VERBOSE, COSTS OFF)
DELETE FROM ch.services_rw WHERE id = 'abc';
EXPLAIN (VERBOSE, COSTS OFF)
UPDATE ch.config_rw SET value = '8MB' WHERE service_id = 'abc' AND name = 'work_mem';
SELECT count(*) FROM sim_requests(:m);

--
-- A session: create, resize, tag, restart, delete
--
SELECT sim_mark() AS m \gset
INSERT INTO ch.services_rw (name, provider, region, size, storage_size, postgres_version, ha_type, tags)
VALUES ('wr-one', 'aws', 'us-east-1', 'r8gd.large', 200, '18', 'none', '[{"key": "team", "value": "dba"}]')
RETURNING id, name, state, password, connection_string, hostname, storage_size, mask_tag(tags::text) AS tags;
SELECT * FROM sim_writes(:m);

SELECT id AS sid FROM ch.services_rw WHERE name = 'wr-one' \gset

SELECT sim_mark() AS m \gset
UPDATE ch.services_rw SET size = 'r8gd.xlarge' WHERE id = :'sid'
RETURNING id, size, state;
SELECT * FROM sim_writes(:m);

-- tags are replaced whole (a merge patch replaces arrays)
SELECT sim_mark() AS m \gset
UPDATE ch.services_rw SET tags = '[{"key": "env", "value": "prod"}]', ha_type = 'async'
WHERE id = :'sid' RETURNING tags, ha_type;
SELECT * FROM sim_writes(:m);
SELECT size, ha_type, tags FROM ch.services_rw WHERE id = :'sid';

-- state changes go through the function
SELECT sim_mark() AS m \gset
SELECT r->>'id' = :'sid' AS same_id, r->>'state' AS state
FROM pgapi_fdw_service_command('ch', :'sid', 'restart') AS r;
SELECT * FROM sim_writes(:m);
SELECT pgapi_fdw_service_command('ch', :'sid', 'stop');  -- ERROR
SELECT pgapi_fdw_service_command('nosuch', :'sid', 'restart');  -- ERROR
SELECT count(*) FROM sim_requests(:m);

-- config: read, then PATCH both sections with one key changed
SELECT sim_mark() AS m \gset
UPDATE ch.config_rw SET value = '8MB' WHERE service_id = :'sid' AND name = 'work_mem'
RETURNING section, name, value;
SELECT * FROM sim_writes(:m);
SELECT section, name, value FROM ch.config_rw WHERE service_id = :'sid' ORDER BY 1, 2;
-- a PgBouncer parameter needs its section named
SELECT sim_mark() AS m \gset
UPDATE ch.config_rw SET value = '20'
WHERE service_id = :'sid' AND section = 'pgbouncer_config' AND name = 'default_pool_size';
SELECT * FROM sim_writes(:m);

-- delete; a second delete finds nothing and succeeds
SELECT sim_mark() AS m \gset
DELETE FROM ch.services_rw WHERE id = :'sid' RETURNING id;
SELECT * FROM sim_writes(:m);
DELETE FROM ch.services_rw WHERE id = :'sid';
SELECT count(*) FROM ch.services_rw WHERE name = 'wr-one';

--
-- Refusals: each sends no request
--
SELECT sim_mark() AS m \gset
-- not updatable
INSERT INTO ch.postgres_services (name, provider, region, size) VALUES ('x', 'aws', 'us-east-1', 'r8gd.large');
UPDATE ch.postgres_services SET size = 'r8gd.xlarge' WHERE id = 'x';
-- no WHERE, WHERE not on id, too many ids
DELETE FROM ch.services_rw;
UPDATE ch.services_rw SET size = 'r8gd.xlarge';
DELETE FROM ch.services_rw WHERE name = 'wr-one';
UPDATE ch.services_rw SET size = 'r8gd.xlarge' WHERE name = 'wr-one';
DELETE FROM ch.services_rw WHERE id IN ('a', 'b');
-- columns the API cannot change
UPDATE ch.services_rw SET state = 'stopped' WHERE id = 'x';
UPDATE ch.services_rw SET region = 'eu-west-1' WHERE id = 'x';
INSERT INTO ch.services_rw (name, provider, region, size, state) VALUES ('x', 'aws', 'us-east-1', 'r8gd.large', 'running');
-- values outside the API's enums
INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('x', 'gcp', 'us-east-1', 'r8gd.large');
INSERT INTO ch.services_rw (name, provider, region, size, ha_type) VALUES ('x', 'aws', 'us-east-1', 'r8gd.large', 'asyn');
-- config: no such Postgres parameter, no name, no service
UPDATE ch.config_rw SET value = '1' WHERE service_id = 'x' AND name = 'work_memory';
UPDATE ch.config_rw SET value = '1' WHERE service_id = 'x' AND name = 'default_pool_size';
UPDATE ch.config_rw SET value = '1' WHERE service_id = 'x';
UPDATE ch.config_rw SET value = '1' WHERE name = 'work_mem';
UPDATE ch.config_rw SET section = 'x' WHERE service_id = 'x' AND name = 'work_mem';
INSERT INTO ch.config_rw VALUES ('x', 'pg_config', 'work_mem', '1MB');
-- read-only transaction (W6)
BEGIN READ ONLY;
INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('x', 'aws', 'us-east-1', 'r8gd.large');
ROLLBACK;
BEGIN READ ONLY;
SELECT pgapi_fdw_service_command('ch', 'x', 'restart');
ROLLBACK;
SELECT count(*) FROM sim_requests(:m);

--
-- Transactions: ROLLBACK warns, PREPARE TRANSACTION is refused
--
BEGIN;
INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('wr-two', 'aws', 'us-east-1', 'r8gd.large')
RETURNING id;
ROLLBACK;
SELECT name, state IS NOT NULL AS has_state FROM ch.services_rw WHERE name = 'wr-two';
SELECT id AS sid2 FROM ch.services_rw WHERE name = 'wr-two' \gset

BEGIN;
UPDATE ch.services_rw SET size = 'r8gd.2xlarge' WHERE id = :'sid2';
PREPARE TRANSACTION 'pgapi_w';  -- ERROR
SELECT count(*) FROM pg_prepared_xacts;

-- reads alone leave nothing to warn about
BEGIN;
SELECT count(*) > 0 AS ok FROM ch.services_rw WHERE id = :'sid2';
ROLLBACK;

-- a savepoint rolled back still warns at the end
BEGIN;
SAVEPOINT s;
UPDATE ch.services_rw SET size = 'r8gd.large' WHERE id = :'sid2';
ROLLBACK TO SAVEPOINT s;
ROLLBACK;

--
-- API errors
--
-- the same name twice: refused before anything is written (W9), after
-- one read of the list
SELECT sim_mark() AS m \gset
INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('wr-two', 'aws', 'us-east-1', 'r8gd.large');
SELECT method, path FROM sim_writes(:m);
-- that read never comes from the response cache: with the list cached
-- before 'wr-four' existed, the second INSERT still sees it
ALTER SERVER ch OPTIONS (ADD cache_ttl_ms '60000');
SELECT count(*) > 0 AS cached FROM ch.services_rw;
INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('wr-four', 'aws', 'us-east-1', 'r8gd.large');
SELECT sim_mark() AS m \gset
INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('wr-four', 'aws', 'us-east-1', 'r8gd.large');
SELECT method, path FROM sim_writes(:m);
ALTER SERVER ch OPTIONS (DROP cache_ttl_ms);
SELECT id AS sid4 FROM ch.services_rw WHERE name = 'wr-four' \gset
DELETE FROM ch.services_rw WHERE id = :'sid4';
-- ambiguous outcome: the connection is reset after the API processed the
-- POST; never retried, so the journal holds it once
SELECT sim_mark() AS m \gset
SELECT sim_fault('{"match": {"method": "POST", "path": "/postgres$"}, "action": {"process_then_reset": true}}');
DO $$
DECLARE st text; msg text; det text; hint text; ctx text;
BEGIN
    INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('wr-three', 'aws', 'us-east-1', 'r8gd.large');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
    RAISE NOTICE 'SQLSTATE %: %', st, msg;
    RAISE NOTICE 'DETAIL: %', regexp_replace(det, '"[0-9a-f-]{36}"', '"<uuid>"');
    RAISE NOTICE 'HINT: %', regexp_replace(hint, '[0-9a-f-]{36}', '<uuid>', 'g');
    RAISE NOTICE 'CONTEXT: %', split_part(ctx, E'\n', 1);
    RAISE NOTICE 'CONTEXT: %', split_part(ctx, E'\n', 2);
    -- keep the tag the error named, to look for the service by it
    PERFORM set_config('pgapi_test.tag', substring(det from '"([0-9a-f-]{36})"'), false);
END;
$$;
SELECT method, path, body ~ '"key":"pgapi_fdw_request"' AS tagged FROM sim_writes(:m);
-- the service exists, and the tag the error named finds it (N7)
SELECT name FROM ch.services_rw
WHERE tags @> jsonb_build_array(jsonb_build_object('key', 'pgapi_fdw_request',
                                                    'value', current_setting('pgapi_test.tag')));
-- repeating the INSERT cannot make a second one (W9)
INSERT INTO ch.services_rw (name, provider, region, size) VALUES ('wr-three', 'aws', 'us-east-1', 'r8gd.large');

-- clean up
SELECT id AS sid3 FROM ch.services_rw WHERE name = 'wr-three' \gset
DELETE FROM ch.services_rw WHERE id = :'sid2';
DELETE FROM ch.services_rw WHERE id = :'sid3';
SELECT sim_reset();

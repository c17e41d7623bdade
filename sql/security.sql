--
-- Secrets stay in user mappings and never show anywhere; privileged
-- options are for superusers; a user without a mapping gets a clear error.
--
SELECT sim_reset();
\set VERBOSITY default

-- no secret in the server catalog, EXPLAIN or plans
SELECT count(*) AS canaries FROM pg_foreign_server WHERE array_to_string(srvoptions, ',') LIKE '%CANARY%';
CREATE FUNCTION plan_text(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text := ''; l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        r := r || l || E'\n';
    END LOOP;
    RETURN r;
END;
$$;
SELECT plan_text('SELECT * FROM ch.postgres_services') LIKE '%CANARY%' AS leaked,
       plan_text('SELECT * FROM ch.postgres_services') LIKE '%test-key%' AS key_id_shown,
       plan_text('SELECT * FROM ch.postgres_services') ~ '127\.0\.0\.1|localhost' AS host_shown;

-- no secret in the plan tree that any role can print (the test runner
-- searches the server log, where these plans go, for the canary)
SET debug_print_plan = on;
SELECT sim_mark() AS m \gset
DO $$
DECLARE r record;
BEGIN
    SELECT * INTO r FROM ch.postgres_services LIMIT 1;
END $$;
RESET debug_print_plan;

-- the API echoes the key in an error: redacted
SELECT sim_fault('{"match": {"path": "/postgres$"}, "action": {"status": 400, "body": "{\"status\":400,\"error\":\"BAD_REQUEST: key test-key:CANARY-KEY-7f3a dGVzdC1rZXk6Q0FOQVJZLUtFWS03ZjNh password=x \\\"password\\\":\\\"hunter2\\\"\",\"requestId\":\"r-1\"}"}}');
SELECT name FROM ch.postgres_services;

-- a non-superuser
CREATE ROLE pgapi_user LOGIN;
GRANT USAGE ON SCHEMA ch TO pgapi_user;
GRANT SELECT ON ch.postgres_services TO pgapi_user;
-- no user mapping: a clear error, no request
SELECT sim_mark() AS m \gset
SET ROLE pgapi_user;
SELECT name FROM ch.postgres_services;
RESET ROLE;
SELECT count(*) AS requests FROM sim_requests(:m);
-- USAGE and a mapping: the role's own key is used
SELECT sim_mark() AS m \gset
GRANT USAGE ON FOREIGN SERVER ch TO pgapi_user;
GRANT USAGE ON FOREIGN DATA WRAPPER pgapi_fdw TO pgapi_user;
CREATE USER MAPPING FOR pgapi_user SERVER ch OPTIONS (key_id 'user-key', key_secret 'user-secret');
SET ROLE pgapi_user;
SELECT count(*) FROM ch.postgres_services;
-- a non-superuser cannot point a server anywhere, nor read others' secrets
CREATE SERVER evil FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', url 'https://169.254.169.254/');
CREATE SERVER evil FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', url 'file:///etc/passwd');
CREATE SERVER mine FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud');
ALTER SERVER mine OPTIONS (ADD url 'https://169.254.169.254/');
DROP SERVER mine;
SELECT count(*) FROM pg_user_mappings WHERE array_to_string(umoptions, ',') LIKE '%CANARY%';
RESET ROLE;
SELECT count(DISTINCT j->>'auth_sha256') AS distinct_keys FROM sim_journal() j WHERE (j->>'seq')::bigint > :m;

-- wrong credentials: 28000 with a hint naming the mapping options
ALTER USER MAPPING FOR pgapi_user SERVER ch OPTIONS (SET key_secret 'wrong');
SET ROLE pgapi_user;
SELECT count(*) FROM ch.postgres_services;
RESET ROLE;

-- a mapping for PUBLIC serves every role
DROP USER MAPPING FOR pgapi_user SERVER ch;
CREATE USER MAPPING FOR PUBLIC SERVER ch OPTIONS (key_id 'public-key', key_secret 'public-secret');
SET ROLE pgapi_user;
SELECT count(*) FROM ch.postgres_services;
SELECT count(*) FROM pg_user_mappings WHERE umoptions IS NOT NULL AND usename = 'public';
RESET ROLE;

-- a mapping that lacks the keys the API needs
ALTER USER MAPPING FOR PUBLIC SERVER ch OPTIONS (DROP key_secret);
SET ROLE pgapi_user;
SELECT count(*) FROM ch.postgres_services;
RESET ROLE;

DROP USER MAPPING FOR PUBLIC SERVER ch;
REVOKE ALL ON ch.postgres_services FROM pgapi_user;
REVOKE USAGE ON FOREIGN SERVER ch FROM pgapi_user;
REVOKE USAGE ON FOREIGN DATA WRAPPER pgapi_fdw FROM pgapi_user;
REVOKE USAGE ON SCHEMA ch FROM pgapi_user;
DROP ROLE pgapi_user;
DROP FUNCTION plan_text(text);

--
-- Every outcome of a request maps to one SQLSTATE (DESIGN.md, "Errors").
-- Each case shows the error, then the requests it made; the backend stays
-- usable after each.
--
SELECT sim_reset();
\set VERBOSITY default
\set SHOW_CONTEXT always

CREATE FUNCTION fault(path text, action jsonb, times int DEFAULT 1) RETURNS void
LANGUAGE sql AS $$
    SELECT sim_fault(jsonb_build_object(
        'match', jsonb_build_object('path', path),
        'action', action, 'times', times));
$$;
-- discover the organization now, so the counts below are the faults' own
SELECT count(*) FROM ch.organizations;

-- 401 and 403: 28000, one request, no key in the message
SELECT fault('/postgres$', '{"status": 401}');
SELECT sim_mark() AS m \gset
SELECT name FROM ch.postgres_services;
SELECT * FROM sim_requests(:m);
SELECT fault('/postgres$', '{"status": 403, "body": "{\"status\":403,\"error\":\"FORBIDDEN: key CANARY-KEY-7f3a lacks scope\",\"requestId\":\"b1\"}"}');
SELECT name FROM ch.postgres_services;

-- 400 with the API's message and requestId in DETAIL, never retried
SELECT fault('/postgres$', '{"status": 400}');
SELECT sim_mark() AS m \gset
SELECT name FROM ch.postgres_services;
SELECT * FROM sim_requests(:m);

-- 404 on a single-object lookup is no row; on the organization's list it
-- is an error
SELECT count(*) FROM ch.postgres_services WHERE id = 'missing';
SELECT fault('/postgres$', '{"status": 404}');
SELECT name FROM ch.postgres_services;

-- 409: 55000
SELECT fault('/postgres$', '{"status": 409, "body": "{\"status\":409,\"error\":\"CONFLICT: busy\",\"requestId\":\"c9\"}"}');
SELECT name FROM ch.postgres_services;

-- 503, 502, 500 then success: read requests are retried
SELECT fault('/postgres$', '{"status": 503}');
SELECT fault('/postgres$', '{"status": 502}');
SELECT fault('/postgres$', '{"status": 500}');
SELECT sim_mark() AS m \gset
SELECT name FROM ch.postgres_services ORDER BY name;
SELECT seq, method, status FROM sim_requests_ordered(:m);

-- 503 forever: 1 + max_retries requests, then HV000 with a hint
ALTER SERVER ch OPTIONS (ADD max_retries '1');
SELECT fault('/postgres$', '{"status": 503}', -1);
SELECT sim_mark() AS m \gset
SELECT name FROM ch.postgres_services;
SELECT seq, method, status FROM sim_requests_ordered(:m);
SELECT sim_post('faults/clear');
ALTER SERVER ch OPTIONS (DROP max_retries);

-- 429 with Retry-After: retried after the wait; asked to wait too long: at once an error
SELECT fault('/postgres$', '{"status": 429, "headers": {"Retry-After": "1"}}');
SELECT sim_mark() AS m \gset
SELECT count(*) FROM ch.postgres_services;
SELECT count(*) AS requests,
       max((j->>'t')::float8) - min((j->>'t')::float8) >= 1.0 AS waited
FROM sim_journal() j WHERE (j->>'seq')::bigint > :m;
SELECT fault('/postgres$', '{"status": 429, "headers": {"Retry-After": "86400"}}');
SELECT name FROM ch.postgres_services;

-- replies that are not what the API promises: HV00M
SELECT fault('/postgres$', '{"status": 200, "body": "<html>bad gateway</html>", "content_type": "text/html"}');
SELECT name FROM ch.postgres_services;
SELECT fault('/postgres$', '{"status": 200, "body": "{\"status\": 200, \"result\": [", "content_type": "application/json"}');
SELECT name FROM ch.postgres_services;
SELECT fault('/postgres$', '{"status": 200, "body": "{\"status\": 200, \"result\": []} {}", "content_type": "application/json"}');
SELECT name FROM ch.postgres_services;
SELECT fault('/postgres$', '{"status": 200, "body": "{\"status\": 200}", "content_type": "application/json"}');
SELECT name FROM ch.postgres_services;
SELECT fault('/postgres$', '{"status": 200, "body": "{\"status\": 500, \"error\": \"INTERNAL\", \"result\": []}", "content_type": "application/json"}');
SELECT name FROM ch.postgres_services;
SELECT fault('/postgres$', '{"status": 200, "body": "", "content_type": "application/json"}');
SELECT name FROM ch.postgres_services;
SELECT fault('/postgres$', jsonb_build_object('status', 200, 'content_type', 'application/json',
             'body', repeat('[', 40) || repeat(']', 40)));
SELECT name FROM ch.postgres_services;
SELECT fault('/postgres$', '{"truncate": true}');
SELECT name FROM ch.postgres_services;
-- invalid UTF-8: 22021
SELECT fault('/postgres$', jsonb_build_object('status', 200, 'content_type', 'application/json',
             'body_b64', encode(convert_to('{"status":200,"result":[{"name":"', 'UTF8') || '\xff'::bytea || convert_to('"}]}', 'UTF8'), 'base64')));
SELECT name FROM ch.postgres_services;

-- a body over max_response_bytes: 54000, whether or not its length is announced
ALTER SERVER ch OPTIONS (ADD max_response_bytes '100000');
SELECT fault('/postgres$', '{"oversize": {"bytes": 10000000, "chunked": true}}');
SELECT name FROM ch.postgres_services;
SELECT fault('/postgres$', '{"oversize": {"bytes": 10000000, "chunked": false}}');
SELECT name FROM ch.postgres_services;
ALTER SERVER ch OPTIONS (DROP max_response_bytes);

-- redirects are never followed
SELECT fault('/postgres$', jsonb_build_object('redirect',
             jsonb_build_object('status', 302, 'location', current_setting('pgapi_test.sim_url') || '/elsewhere')));
SELECT sim_mark() AS m \gset
SELECT name FROM ch.postgres_services;
SELECT * FROM sim_requests(:m);

-- the connection drops before an answer: a read is retried
SELECT fault('/postgres$', '{"close_before_headers": true}');
SELECT count(*) FROM ch.postgres_services;

-- nothing listens: HV00N after the retries, curl's reason in DETAIL
CREATE SERVER ch_down FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url 'http://127.0.0.1:9', max_retries '0',
           organization_id 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_down OPTIONS (key_id 'k', key_secret 's');
CREATE FOREIGN TABLE down_services (id text) SERVER ch_down OPTIONS (resource 'postgres_services');
\set VERBOSITY sqlstate
SELECT * FROM down_services;
\set VERBOSITY default

-- a hung request ends at statement_timeout with 57014, well within a second
SELECT fault('/postgres$', '{"hang": true}');
SET statement_timeout = '200ms';
SELECT clock_timestamp() AS t0 \gset
SELECT name FROM ch.postgres_services;
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1 second' AS prompt;

-- a hung request ends at timeout_ms with HV00N
ALTER SERVER ch OPTIONS (ADD timeout_ms '300', ADD max_retries '0');
SELECT fault('/postgres$', '{"hang": true}');
\set VERBOSITY sqlstate
SELECT name FROM ch.postgres_services;
\set VERBOSITY default
ALTER SERVER ch OPTIONS (DROP timeout_ms, DROP max_retries);

-- and the backend is fine
SELECT sim_post('faults/clear');
SELECT count(*) FROM ch.postgres_services;

DROP FOREIGN TABLE down_services;
DROP SERVER ch_down CASCADE;
DROP FUNCTION fault(text, jsonb, int);

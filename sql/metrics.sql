--
-- Metrics: postgres_metrics (JSON, one row per data point) and
-- postgres_prometheus (Prometheus text, one row per sample), read through
-- the tables import.sql created.
--
SELECT sim_reset();
SELECT count(*) FROM ch.organizations;  -- organization discovery out of the way
\set svc '''f71df78e-ddad-82d0-8dfa-abbec741b82e'''
SELECT quote_literal(date_trunc('hour', now()) - interval '2 hours') AS from,
       quote_literal(date_trunc('hour', now())) AS to \gset

-- window and bucket size are request parameters, echoed into the rows
SELECT explain(format($$SELECT metric, series, ts, value FROM ch_import.postgres_metrics
WHERE service_id = %L AND from_date = %L AND to_date = %L AND bucket_size_seconds = 600$$, :svc, :from, :to));
SELECT sim_mark() AS m \gset
SELECT metric, name, unit, series, count(*) AS points,
       min(ts) = :from::timestamptz AS first_point,
       bool_and(bucket_size_seconds = 600 AND from_date = :from AND to_date = :to) AS echoed
FROM ch_import.postgres_metrics
WHERE service_id = :svc AND from_date = :from AND to_date = :to AND bucket_size_seconds = 600
GROUP BY 1, 2, 3, 4 ORDER BY 1, 4;
SELECT * FROM sim_requests(:m);

-- no bucket_size_seconds: ceil(window seconds / 250) is sent and echoed
-- (2 hours = 7200 s -> 29 s: 249 points)
SELECT sim_mark() AS m \gset
SELECT DISTINCT bucket_size_seconds FROM ch_import.postgres_metrics
WHERE service_id = :svc AND from_date = :from AND to_date = :to;
SELECT count(*) AS cpu_user_points FROM ch_import.postgres_metrics
WHERE service_id = :svc AND from_date = :from AND to_date = :to AND metric = 'cpu_usage' AND series = 'user';
SELECT * FROM sim_requests(:m);
-- the default 24 hour window: 86400 s -> 346 s
SELECT DISTINCT bucket_size_seconds, to_date - from_date AS window
FROM ch_import.postgres_metrics WHERE service_id = :svc;
-- a window the API cannot serve in 250 points is its error, passed on
-- (its context names the window, so only the message and detail are shown)
CREATE FUNCTION error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; detail text; state text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
    RETURN state || ': ' || msg || ' / ' || regexp_replace(detail, ' requestId: .*', '');
END;
$$;
SELECT error_of(format($$SELECT count(*) FROM ch_import.postgres_metrics
WHERE service_id = %L AND from_date = %L AND to_date = %L AND bucket_size_seconds = 10$$, :svc, :from, :to));

-- no service_id: every service of the organization
SELECT explain($$SELECT service_id, avg(value) FROM ch_import.postgres_metrics
WHERE metric = 'connection_count' AND from_date = now() - interval '2 hours' GROUP BY 1$$);
SELECT sim_mark() AS m \gset
SELECT service_id, count(*) AS points FROM ch_import.postgres_metrics
WHERE metric = 'connection_count' AND from_date = :from AND to_date = :to
GROUP BY 1 ORDER BY 1;
SELECT * FROM sim_requests(:m);

-- Prometheus, org-wide: one request, one row per sample, labels as jsonb,
-- service_id from the postgres_service label
SELECT explain($$SELECT * FROM ch_import.postgres_prometheus$$);
SELECT sim_mark() AS m \gset
SELECT service_id, metric, labels->>'state' AS state, labels->>'database' AS db, value
FROM ch_import.postgres_prometheus ORDER BY 1, 2, 3, 4;
SELECT * FROM sim_requests(:m);

-- per service: service_id = uses the service's own endpoint
SELECT explain(format($$SELECT metric, value FROM ch_import.postgres_prometheus WHERE service_id = %L$$, :svc));
SELECT sim_mark() AS m \gset
SELECT metric, value FROM ch_import.postgres_prometheus
WHERE service_id = :svc AND metric LIKE '%Total' ORDER BY 1;
SELECT * FROM sim_requests(:m);
-- an unknown service: no rows (404)
SELECT count(*) FROM ch_import.postgres_prometheus WHERE service_id = 'no-such-service';

-- the text parser: HELP/TYPE lines, escaped label values, NaN/+Inf/-Inf,
-- timestamps, blank lines, trailing commas
SELECT sim_fault(jsonb_build_object(
  'match', jsonb_build_object('path', '/prometheus$'), 'times', 1,
  'action', jsonb_build_object('status', 200, 'content_type', 'text/plain; version=0.0.4',
    'body', E'# HELP m_one A help text with \\\\ and \\n escapes.\n# TYPE m_one gauge\n'
            || E'm_one{postgres_service="s1",path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",} 1.5 1700000000000\n'
            || E'\n# a free comment\nm_two NaN\nm_two{k="v"} +Inf\nm_two{k="w"} -Inf\n'
            || E'm_three{ a = "x" , b="y"}\t-1.25e3\nm_four 42\n')));
SELECT metric, labels, value, service_id, labels->>'nl' = E'a\nb' AS newline
FROM ch_import.postgres_prometheus ORDER BY metric, value;

-- malformed lines: ERROR naming the line, with an escaped excerpt
CREATE FUNCTION prom_error(body text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; detail text; state text;
BEGIN
    PERFORM sim_fault(jsonb_build_object(
      'match', jsonb_build_object('path', '/prometheus$'), 'times', 1,
      'action', jsonb_build_object('status', 200, 'content_type', 'text/plain', 'body', body)));
    PERFORM count(*) FROM ch_import.postgres_prometheus;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
    RETURN state || ': ' || msg || ' / ' || detail;
END;
$$;
SELECT prom_error(E'# TYPE a gauge\na 1\nb{x="1" 2\n');
SELECT prom_error(E'a{x="bad \\q escape"} 1\n');
SELECT prom_error(E'a{x="unterminated} 1\n');
SELECT prom_error(E'a{x="1",x="2"} 1\n');
SELECT prom_error(E'a 12abc\n');
SELECT prom_error(E'a 1 12.5\n');
SELECT prom_error(E'a 1 2 3\n');
SELECT prom_error(E'a\n');
SELECT prom_error(E'9a 1\n');
SELECT prom_error(E'# TYPE a gaugeish\n');
SELECT prom_error(E'a{x="\x01\u00e9"} 1 zz\n');
SELECT prom_error(E'a{x="' || repeat('y', 100) || E'"} one\n');
-- the same error outside a function, with its context
SELECT sim_fault('{"match": {"path": "/prometheus$"}, "times": 1,
  "action": {"status": 200, "content_type": "text/plain", "body": "ok 1\nnot ok\n"}}');
SELECT * FROM ch_import.postgres_prometheus;  -- ERROR

--
-- Slow query patterns: WHERE, ORDER BY and LIMIT become request
-- parameters; everything else is filtered locally; results equal
-- PostgreSQL's over the full data.
--
SELECT sim_reset();
SELECT count(*) FROM ch.organizations;  -- organization discovery out of the way
\set svc '''f71df78e-ddad-82d0-8dfa-abbec741b82e'''
-- The simulator's patterns were seen in the last hours: a window of the
-- last two days holds them all.
SELECT quote_literal(date_trunc('hour', now()) - interval '2 days') AS from,
       quote_literal(date_trunc('hour', now()) + interval '1 hour') AS to \gset

-- The canonical report: one request, sort and limit sent
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT query_id, db_name, total_duration_us FROM ch.slow_query_patterns
WHERE service_id = %3$L AND from_date = %1$L AND to_date = %2$L
ORDER BY total_duration_us DESC LIMIT 2$q$, :from, :to, :svc));
SELECT query_id, db_name, total_duration_us FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from AND to_date = :to
ORDER BY total_duration_us DESC LIMIT 2;
SELECT * FROM sim_requests(:m);

-- The canonical report, as a pg_cron job or an application would send it:
-- exactly one request, with limit=10
PREPARE canonical(text) AS
SELECT query_id, total_duration_us FROM ch.slow_query_patterns
WHERE service_id = $1 AND from_date = now() - interval '1 day'
ORDER BY total_duration_us DESC LIMIT 10;
SELECT sim_mark() AS m \gset
EXECUTE canonical(:svc);
SELECT * FROM sim_requests(:m);
DEALLOCATE canonical;

-- the window echoes what was sent, in UTC with milliseconds; sub-millisecond
-- parts are dropped
SELECT sim_mark() AS m \gset
SELECT DISTINCT service_id,
       from_date = :from::timestamptz + interval '0.123 s' AS from_echoed,
       to_date = :to::timestamptz AS to_echoed
FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from::timestamptz + interval '0.1239 s' AND to_date = :to;
SELECT q = format('from_date=%s&to_date=%s&limit=500',
                  to_char((:from::timestamptz + interval '0.123 s') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  to_char(:to::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS exact_window
FROM sim_queries(:m) q;

-- one bound: the other one defaults (to_date = now, from_date = to_date - default_window)
SELECT sim_mark() AS m \gset
SELECT count(*) > 0 AS rows, bool_and(to_date - from_date = interval '24 hours') AS window_24h
FROM ch.slow_query_patterns WHERE service_id = :svc;
SELECT method, path FROM sim_requests(:m);
SELECT bool_and(to_date = :to) AS to_echoed,
       bool_and(from_date = :to::timestamptz - interval '24 hours') AS default_from
FROM ch.slow_query_patterns WHERE service_id = :svc AND to_date = :to;

-- an empty window is an error before any request
SELECT sim_mark() AS m \gset
SELECT count(*) FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = '2026-05-26 00:00:00+00'
  AND to_date = '2026-05-25 00:00:00+00';
SELECT count(*) AS requests FROM sim_requests(:m);

-- stable expressions and parameters are evaluated at execution
SELECT explain(format($q$SELECT count(*) FROM ch.slow_query_patterns
WHERE service_id = %3$L AND from_date = now() - interval '1 day'$q$, :from, :to, :svc));
PREPARE report(text, timestamptz, int) AS
SELECT query_id, total_duration_us FROM ch.slow_query_patterns
WHERE service_id = $1 AND from_date = $2 AND to_date = $2 + interval '2 days'
ORDER BY total_duration_us DESC LIMIT 1;
SELECT sim_mark() AS m \gset
EXECUTE report(:svc, :from, 1);
SELECT * FROM sim_requests(:m);
DEALLOCATE report;

-- filters with = and IN are sent, one request per value
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT query_id, db_name, db_operation FROM ch.slow_query_patterns
WHERE service_id = %3$L AND from_date = %1$L AND to_date = %2$L
  AND db_operation IN ('SELECT', 'UPDATE') AND db_user = 'orders_service'$q$, :from, :to, :svc));
SELECT query_id, db_name, db_operation FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from AND to_date = :to
  AND db_operation IN ('SELECT', 'UPDATE') AND db_user = 'orders_service'
ORDER BY query_id;
SELECT * FROM sim_requests(:m);

-- ORDER BY a column the API cannot sort by is sorted locally
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT query_id, total_shared_blks_read FROM ch.slow_query_patterns
WHERE service_id = %3$L AND from_date = %1$L AND to_date = %2$L
ORDER BY total_shared_blks_read DESC LIMIT 2$q$, :from, :to, :svc));
SELECT query_id, total_shared_blks_read FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from AND to_date = :to
ORDER BY total_shared_blks_read DESC LIMIT 2;
SELECT * FROM sim_requests(:m);

-- ascending order, and a local filter: the LIMIT is not sent
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT query_id, call_count FROM ch.slow_query_patterns
WHERE service_id = %3$L AND from_date = %1$L AND to_date = %2$L AND query_text LIKE 'SELECT%%'
ORDER BY call_count LIMIT 1$q$, :from, :to, :svc));
SELECT query_id, call_count FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from AND to_date = :to AND query_text LIKE 'SELECT%'
ORDER BY call_count LIMIT 1;
SELECT * FROM sim_requests(:m);

-- no service_id: the services are listed and each is asked
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT service_id, count(*) FROM ch.slow_query_patterns
WHERE from_date = %1$L AND to_date = %2$L GROUP BY 1$q$, :from, :to));
SELECT service_id, count(*) FROM ch.slow_query_patterns
WHERE from_date = :from AND to_date = :to GROUP BY 1 ORDER BY 1;
SELECT * FROM sim_requests(:m);

-- an unknown service is a 404: no rows
SELECT count(*) FROM ch.slow_query_patterns WHERE service_id = 'no-such-service';
-- an id that could change the request's path is refused before any request
SELECT count(*) FROM ch.slow_query_patterns WHERE service_id = '../../x?y=1#';

-- query_id round-trips exactly, negative ones included
SELECT query_id, query_id::text = '-4748036479882663975' AS exact
FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from AND to_date = :to AND query_id < 0
ORDER BY query_id;

-- paging: page_size rows per request, stopping at the first short page
ALTER SERVER ch OPTIONS (ADD page_size '2');
SELECT sim_mark() AS m \gset
SELECT count(*) FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from AND to_date = :to;
SELECT * FROM sim_requests(:m);
-- max_pages reached is an error, never a silent truncation
ALTER SERVER ch OPTIONS (ADD max_pages '1');
SELECT count(*) FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from AND to_date = :to;
ALTER SERVER ch OPTIONS (DROP max_pages, DROP page_size);

-- a 400 from the API carries its message
SELECT sim_fault('{"match": {"path": "slowQueryPatterns$"}, "action": {"status": 400}}');
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT count(*) FROM ch.slow_query_patterns WHERE service_id = :svc;
\set SHOW_CONTEXT errors

-- results equal PostgreSQL's over a local copy of all the data
CREATE TEMP TABLE patterns_copy AS
  SELECT * FROM ch.slow_query_patterns WHERE from_date = :from AND to_date = :to;

-- Several request streams (fan-out over the services, an IN list): each
-- stream is asked for its first LIMIT rows in the ORDER BY; a local Sort
-- and Limit pick the answer from their union.  One request per stream.
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT service_id, query_id, total_duration_us FROM ch.slow_query_patterns
WHERE from_date = %1$L AND to_date = %2$L
ORDER BY total_duration_us DESC LIMIT 3$q$, :from, :to));
SELECT * FROM (
  SELECT service_id, query_id, total_duration_us FROM ch.slow_query_patterns
  WHERE from_date = :from AND to_date = :to ORDER BY total_duration_us DESC LIMIT 3) t
ORDER BY total_duration_us DESC, query_id;
SELECT method, path, query FROM sim_requests(:m) ORDER BY path, query;
SELECT sim_mark() AS m \gset
SELECT query_id, db_name, p99_duration_us FROM ch.slow_query_patterns
WHERE service_id = :svc AND from_date = :from AND to_date = :to AND db_name IN ('sales', 'postgres')
ORDER BY p99_duration_us LIMIT 2;
SELECT method, path, query FROM sim_requests(:m) ORDER BY path, query;
-- the same answers as over all the data
(SELECT service_id, query_id FROM ch.slow_query_patterns
 WHERE from_date = :from AND to_date = :to ORDER BY total_duration_us DESC LIMIT 3)
EXCEPT ALL
(SELECT service_id, query_id FROM patterns_copy ORDER BY total_duration_us DESC LIMIT 3);
(SELECT query_id FROM ch.slow_query_patterns
 WHERE service_id = :svc AND from_date = :from AND to_date = :to AND db_name IN ('sales', 'postgres')
 ORDER BY p99_duration_us LIMIT 2)
EXCEPT ALL
(SELECT query_id FROM patterns_copy WHERE service_id = :svc AND db_name IN ('sales', 'postgres')
 ORDER BY p99_duration_us LIMIT 2);
-- a qual that stays local keeps the streams whole: nothing is cut early
SELECT sim_mark() AS m \gset
SELECT query_id FROM ch.slow_query_patterns
WHERE from_date = :from AND to_date = :to AND total_duration_us < 800000000
ORDER BY total_duration_us DESC LIMIT 1;
SELECT count(*) AS requests, bool_and(query !~ 'limit=1(&|$)') AS no_limit FROM sim_requests(:m)
WHERE path ~ 'slowQueryPatterns';
SELECT count(*) AS differences FROM (
  (SELECT service_id, query_id, db_name FROM ch.slow_query_patterns
   WHERE from_date = :from AND to_date = :to AND db_name IN ('sales', 'postgres')
     AND total_duration_us > 1000
   EXCEPT ALL
   SELECT service_id, query_id, db_name FROM patterns_copy
   WHERE db_name IN ('sales', 'postgres') AND total_duration_us > 1000)
  UNION ALL
  (SELECT service_id, query_id, db_name FROM patterns_copy
   WHERE db_name IN ('sales', 'postgres') AND total_duration_us > 1000
   EXCEPT ALL
   SELECT service_id, query_id, db_name FROM ch.slow_query_patterns
   WHERE from_date = :from AND to_date = :to AND db_name IN ('sales', 'postgres')
     AND total_duration_us > 1000)) d;
(SELECT query_id FROM ch.slow_query_patterns WHERE service_id = :svc AND from_date = :from
   AND to_date = :to ORDER BY p99_duration_us DESC LIMIT 2)
EXCEPT ALL
(SELECT query_id FROM patterns_copy WHERE service_id = :svc ORDER BY p99_duration_us DESC LIMIT 2);

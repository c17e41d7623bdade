--
-- Joins: parameterized paths ask only for the joined objects.
--
SELECT sim_reset();
SELECT count(*) FROM ch.organizations;
SELECT quote_literal(date_trunc('hour', now()) - interval '2 days') AS from,
       quote_literal(date_trunc('hour', now()) + interval '1 hour') AS to \gset

-- services JOIN patterns: patterns of the joined service only
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT s.name, p.query_id FROM ch.postgres_services s
JOIN ch.slow_query_patterns p ON p.service_id = s.id
WHERE s.name = 'oltp' AND p.from_date = %1$L AND p.to_date = %2$L$q$, :from, :to));
SELECT s.name, p.query_id FROM ch.postgres_services s
JOIN ch.slow_query_patterns p ON p.service_id = s.id
WHERE s.name = 'oltp' AND p.from_date = :from AND p.to_date = :to
ORDER BY p.query_id;
SELECT * FROM sim_requests(:m);

-- patterns JOIN executions: executions of the outer rows only
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT p.query_id, e."timestamp", e.duration_us
FROM ch.slow_query_patterns p
JOIN ch.slow_query_executions e USING (service_id, query_id, db_name, db_user, db_operation)
WHERE p.service_id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e'
  AND p.from_date = %1$L AND p.to_date = %2$L
  AND p.total_duration_us > 300000000$q$, :from, :to));
SELECT p.query_id, e.duration_us, e.err_sqlstate
FROM ch.slow_query_patterns p
JOIN ch.slow_query_executions e USING (service_id, query_id, db_name, db_user, db_operation)
WHERE p.service_id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e'
  AND p.from_date = :from AND p.to_date = :to
  AND p.total_duration_us > 300000000
ORDER BY 1, 2;
SELECT * FROM sim_requests(:m);

-- executions without their key columns: a clear error with an example
SELECT count(*) FROM ch.slow_query_executions;
SELECT count(*) FROM ch.slow_query_executions
WHERE service_id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e' AND query_id = 1;
-- with them: one request
SELECT sim_mark() AS m \gset
SELECT "timestamp", duration_us, rows, server_role, trace_id
FROM ch.slow_query_executions
WHERE service_id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e' AND query_id = -4748036479882663975
  AND db_name = 'sales' AND db_user = 'orders_service' AND db_operation = 'SELECT'
ORDER BY 1;
SELECT * FROM sim_requests(:m);

-- a local table of owners joined to services and their top patterns
CREATE TEMP TABLE service_owners (service_id text PRIMARY KEY, owner text);
INSERT INTO service_owners VALUES ('f71df78e-ddad-82d0-8dfa-abbec741b82e', 'payments team');
ANALYZE service_owners;
SELECT sim_mark() AS m \gset
SELECT explain(format($q$SELECT o.owner, s.name, p.query_id, p.total_duration_us
FROM service_owners o
JOIN ch.postgres_services s ON s.id = o.service_id
JOIN ch.slow_query_patterns p ON p.service_id = o.service_id
WHERE p.from_date = %1$L AND p.to_date = %2$L$q$, :from, :to));
SELECT o.owner, s.name, p.query_id, p.total_duration_us
FROM service_owners o
JOIN ch.postgres_services s ON s.id = o.service_id
JOIN ch.slow_query_patterns p ON p.service_id = o.service_id
WHERE p.from_date = :from AND p.to_date = :to
ORDER BY p.total_duration_us DESC;
SELECT * FROM sim_requests(:m);

-- configuration: one row per parameter of both sections
SELECT sim_mark() AS m \gset
SELECT section, name, value FROM ch.postgres_config
WHERE service_id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e' ORDER BY 1, 2;
SELECT * FROM sim_requests(:m);
SELECT s.name, c.value AS max_connections
FROM ch.postgres_services s JOIN ch.postgres_config c ON c.service_id = s.id
WHERE c.name = 'max_connections' ORDER BY 1;

--
-- EXPLAIN shows each planned request, without host or secret; plain
-- EXPLAIN makes no request; EXPLAIN ANALYZE adds the counters.
--
SELECT sim_reset();

SELECT sim_mark() AS m \gset
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM ch.organizations;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM ch.postgres_services;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM ch.postgres_services WHERE id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM ch.postgres_services
WHERE id IN ('f71df78e-ddad-82d0-8dfa-abbec741b82e', '0c330583-6396-86d0-82cd-ed0f23b0d38c');
-- a local filter shows as Filter, not in the request
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM ch.postgres_services WHERE name = 'oltp' AND state <> 'stopped';
-- a parameter's value is known at execution only
PREPARE q(text) AS SELECT name FROM ch.postgres_services WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('x');
RESET plan_cache_mode;
DEALLOCATE q;
-- a join with a local table feeds the id from the outer row
CREATE TEMP TABLE wanted (id text);
INSERT INTO wanted VALUES ('f71df78e-ddad-82d0-8dfa-abbec741b82e');
ANALYZE wanted;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT s.name FROM wanted w JOIN ch.postgres_services s ON s.id = w.id;
-- none of the above reached the API
SELECT count(*) AS requests FROM sim_requests(:m);

-- EXPLAIN ANALYZE counts requests, pages, retries, bytes and cache hits
CREATE FUNCTION explain_analyze(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q
    LOOP
        RETURN NEXT regexp_replace(l, 'Bytes: \d+', 'Bytes: N');
    END LOOP;
END;
$$;
SELECT count(*) FROM ch.organizations;  -- discovery out of the way
SELECT explain_analyze('SELECT name FROM ch.postgres_services');
SELECT explain_analyze('SELECT name, hostname FROM ch.postgres_services');
SELECT explain_analyze($$SELECT name FROM ch.postgres_services WHERE id IN ('f71df78e-ddad-82d0-8dfa-abbec741b82e', 'x')$$);
SELECT sim_fault('{"match": {"path": "/postgres$"}, "action": {"status": 503}}');
SELECT explain_analyze('SELECT name FROM ch.postgres_services');
-- the byte counter counts the body: the organization list's
CREATE FUNCTION explain_bytes(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF l ~ 'Bytes: \d+' THEN
            RETURN (regexp_match(l, 'Bytes: (\d+)'))[1]::int;
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
SELECT explain_bytes('SELECT id FROM ch.organizations') AS bytes;
DROP FUNCTION explain_bytes(text);

DROP FUNCTION explain_analyze(text);

-- no parallel scans (K1): even when parallel query is forced and cheap,
-- no Gather is put above a foreign scan
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
EXPLAIN (COSTS OFF) SELECT * FROM generate_series(1, 3);  -- the setting works: Gather
EXPLAIN (COSTS OFF) SELECT name FROM ch.postgres_services;
EXPLAIN (COSTS OFF)
SELECT s.name FROM ch.postgres_services s JOIN (VALUES ('oltp')) v(n) ON s.name = v.n;
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;

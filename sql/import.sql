--
-- IMPORT FOREIGN SCHEMA: one foreign table per resource, generated from
-- the same descriptors the scanner and pgapi_fdw_resources() read.
--
SELECT sim_reset();

-- the quick start: one IMPORT per server gives every table
CREATE SCHEMA ch_import;
IMPORT FOREIGN SCHEMA clickhouse_cloud FROM SERVER ch INTO ch_import;
CREATE SCHEMA pga_import;
IMPORT FOREIGN SCHEMA pganalyze FROM SERVER pga INTO pga_import;

-- what was created: read-only tables, a resource option and nothing else
SELECT c.relname, s.srvname, ft.ftoptions
FROM pg_foreign_table ft
JOIN pg_class c ON c.oid = ft.ftrelid
JOIN pg_foreign_server s ON s.oid = ft.ftserver
WHERE c.relnamespace IN ('ch_import'::regnamespace, 'pga_import'::regnamespace)
ORDER BY s.srvname, c.relname;

-- drift check: the imported columns, names, types and order, are exactly
-- those of pgapi_fdw_resources() (this query returns no row when they agree)
CREATE TEMP VIEW imported AS
SELECT CASE table_schema WHEN 'ch_import' THEN 'clickhouse_cloud' ELSE 'pganalyze' END AS api,
       table_name::text AS resource, ordinal_position::int AS pos,
       column_name::text AS column_name,
       format_type(a.atttypid, a.atttypmod) AS column_type
FROM information_schema.columns ic
JOIN pg_attribute a ON a.attrelid = format('%I.%I', table_schema, table_name)::regclass
                   AND a.attname = ic.column_name
WHERE table_schema IN ('ch_import', 'pga_import');
CREATE TEMP VIEW described AS
SELECT api, resource,
       row_number() OVER (PARTITION BY api, resource ORDER BY n)::int AS pos,
       column_name, format_type(column_type::regtype, NULL) AS column_type
FROM pgapi_fdw_resources() WITH ORDINALITY AS r(api, resource, column_name, column_type,
     api_field, key_column, required, pushed_operators, sortable, writable, description, n);
(SELECT * FROM imported EXCEPT SELECT * FROM described)
UNION ALL
(SELECT * FROM described EXCEPT SELECT * FROM imported);
-- and there is something to compare
SELECT api, count(DISTINCT resource) AS resources, count(*) AS columns
FROM imported GROUP BY api ORDER BY api;

-- one table in full, as IMPORT wrote it
\d ch_import.postgres_metrics

-- imported tables work
\set svc '''f71df78e-ddad-82d0-8dfa-abbec741b82e'''
SELECT count(*) FROM ch_import.organizations;
SELECT sim_mark() AS m \gset
SELECT name, value FROM ch_import.postgres_config
WHERE service_id = :svc AND section = 'pg_config' AND name = 'max_connections';
SELECT method, path FROM sim_requests(:m);

-- imported tables are read-only; writes are an explicit opt-in
INSERT INTO ch_import.postgres_services (name) VALUES ('x');  -- ERROR

-- LIMIT TO / EXCEPT
CREATE SCHEMA ch_some;
IMPORT FOREIGN SCHEMA clickhouse_cloud LIMIT TO (organizations, postgres_metrics)
  FROM SERVER ch INTO ch_some;
SELECT relname FROM pg_class WHERE relnamespace = 'ch_some'::regnamespace ORDER BY 1;
CREATE SCHEMA ch_rest;
IMPORT FOREIGN SCHEMA clickhouse_cloud EXCEPT (organizations, postgres_metrics)
  FROM SERVER ch INTO ch_rest;
SELECT relname FROM pg_class WHERE relnamespace = 'ch_rest'::regnamespace ORDER BY 1;

-- mistakes
IMPORT FOREIGN SCHEMA clickhouse_cloud LIMIT TO (slow_query_pattern)
  FROM SERVER ch INTO ch_some;                                   -- ERROR: closest match
IMPORT FOREIGN SCHEMA pganalyze FROM SERVER ch INTO ch_some;     -- ERROR: wrong API
IMPORT FOREIGN SCHEMA public FROM SERVER pga INTO ch_some;       -- ERROR: no such schema
IMPORT FOREIGN SCHEMA clickhouse_cloud FROM SERVER ch INTO ch_some
  OPTIONS (import_default 'true');                               -- ERROR: no options
IMPORT FOREIGN SCHEMA clickhouse_cloud LIMIT TO (organizations)
  FROM SERVER ch INTO ch_some;                                   -- ERROR: exists already

DROP SCHEMA ch_some, ch_rest CASCADE;

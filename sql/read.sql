--
-- Reading ClickHouse Cloud organizations and Postgres services, with the
-- exact requests each statement makes.
--
SELECT sim_reset();
\getenv sim_url PGAPI_SIM_URL

-- The organization is discovered once per session when the server has no
-- organization_id.
SELECT sim_mark() AS m \gset
SELECT id, name, created_at, enable_core_dumps FROM ch.organizations;
SELECT * FROM sim_requests(:m);

SELECT sim_mark() AS m \gset
SELECT id, name, provider, region, postgres_version, size, ha_type, state,
       created_at, is_primary, tags
FROM ch.postgres_services ORDER BY name;
SELECT * FROM sim_requests(:m);

-- discovered once: the next scan does not ask again
SELECT sim_mark() AS m \gset
SELECT count(*) FROM ch.postgres_services;
SELECT * FROM sim_requests(:m);

-- id = ... is one single-object GET
SELECT sim_mark() AS m \gset
SELECT id, name, state, storage_size, hostname, username
FROM ch.postgres_services WHERE id = 'f71df78e-ddad-82d0-8dfa-abbec741b82e';
SELECT * FROM sim_requests(:m);

-- id IN (...) is one GET per distinct value; an unknown id (404) is no row
SELECT sim_mark() AS m \gset
SELECT id, name FROM ch.postgres_services
WHERE id IN ('0c330583-6396-86d0-82cd-ed0f23b0d38c', 'f71df78e-ddad-82d0-8dfa-abbec741b82e',
             'f71df78e-ddad-82d0-8dfa-abbec741b82e', 'no-such-service')
ORDER BY name;
SELECT * FROM sim_requests(:m);

-- = ANY of an array, and NULLs, which match nothing
SELECT sim_mark() AS m \gset
SELECT id FROM ch.postgres_services
WHERE id = ANY (ARRAY['0c330583-6396-86d0-82cd-ed0f23b0d38c', NULL]);
SELECT id FROM ch.postgres_services WHERE id = NULL;
SELECT * FROM sim_requests(:m);

-- columns only the single-object GET returns are fetched per row, and
-- only when they are selected
SELECT sim_mark() AS m \gset
SELECT name, hostname, username, storage_size FROM ch.postgres_services ORDER BY name;
SELECT * FROM sim_requests(:m);

-- a WHERE on a column that is not sent is filtered locally, over all rows
SELECT sim_mark() AS m \gset
SELECT name FROM ch.postgres_services WHERE name = 'oltp-replica';
SELECT name FROM ch.postgres_services WHERE id LIKE 'f71d%';
SELECT * FROM sim_requests(:m);

-- prepared statements send their parameter
PREPARE one_service(text) AS SELECT name FROM ch.postgres_services WHERE id = $1;
SELECT sim_mark() AS m \gset
EXECUTE one_service('0c330583-6396-86d0-82cd-ed0f23b0d38c');
EXECUTE one_service('f71df78e-ddad-82d0-8dfa-abbec741b82e');
SELECT * FROM sim_requests(:m);
DEALLOCATE one_service;

-- a server with organization_id set makes no discovery request
CREATE SERVER ch_org FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'sim_url', requests_per_window '100000',
           organization_id '5c6a4f0e-2b1d-4c9e-9a63-7d2f1e8b4a10');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_org
  OPTIONS (key_id 'test-key', key_secret 'CANARY-KEY-7f3a');
CREATE FOREIGN TABLE ch_org_services (id text, name text)
  SERVER ch_org OPTIONS (resource 'postgres_services');
SELECT sim_mark() AS m \gset
SELECT name FROM ch_org_services ORDER BY name;
SELECT * FROM sim_requests(:m);

-- an organization the key cannot see is a 404: for the organization the
-- server is configured with, an error, not an empty result
ALTER SERVER ch_org OPTIONS (SET organization_id 'no-such-org');
SELECT name FROM ch_org_services;

-- the local result equals a local copy's
CREATE TEMP TABLE services_copy AS SELECT * FROM ch.postgres_services;
SELECT count(*) AS differences FROM (
  (SELECT id, name, state FROM ch.postgres_services WHERE is_primary
   EXCEPT ALL SELECT id, name, state FROM services_copy WHERE is_primary)
  UNION ALL
  (SELECT id, name, state FROM services_copy WHERE is_primary
   EXCEPT ALL SELECT id, name, state FROM ch.postgres_services WHERE is_primary)) d;

-- joins with local tables
CREATE TEMP TABLE service_owners (service_id text, owner text);
INSERT INTO service_owners VALUES
  ('f71df78e-ddad-82d0-8dfa-abbec741b82e', 'payments team'),
  ('0c330583-6396-86d0-82cd-ed0f23b0d38c', 'reporting team');
SELECT o.owner, s.name, s.state
FROM service_owners o JOIN ch.postgres_services s ON s.id = o.service_id
ORDER BY o.owner;

DROP FOREIGN TABLE ch_org_services;
DROP SERVER ch_org CASCADE;

--
-- Options and their validation: one bad option per statement.
--
\set VERBOSITY default

-- servers
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw;                               -- ERROR: api is required
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse');    -- ERROR: closest match
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', urll 'https://x.example'); -- ERROR: unknown option, hint url
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', url 'http://example.com/graphql'); -- ERROR: http only for loopback
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', url 'file:///etc/passwd'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', url 'gopher://127.0.0.1/'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', url 'ftp://127.0.0.1/'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', url 'https://user:pw@app.example/graphql'); -- ERROR: credentials in URL
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', url 'not a url'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', timeout_ms '0'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', timeout_ms '12abc'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', page_size '501'); -- ERROR: API maximum is 500
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', max_concurrency '0'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', max_response_bytes '10'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', max_pages '-1'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', default_window '-1 day'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', default_window 'yesterday'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', organization_id 'a/b'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', resource 'organizations'); -- ERROR: table option
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', ca_file 'certs/ca.pem'); -- ERROR: not an absolute path
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', ca_file ''); -- ERROR: not an absolute path
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', ca_file E'/tmp/ca.pem\n'); -- ERROR: control character
-- secrets are accepted on user mappings only
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'pganalyze', api_key 'x'); -- ERROR
CREATE SERVER bad FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', key_secret 'x'); -- ERROR
SELECT count(*) FROM pg_foreign_server WHERE srvname = 'bad';

-- every valid server option
CREATE SERVER good FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (
    api 'clickhouse_cloud', url 'https://api.clickhouse.cloud',
    organization_id '5c6a4f0e-2b1d-4c9e-9a63-7d2f1e8b4a10',
    timeout_ms '30000', connect_timeout_ms '10000', max_retries '3',
    max_response_bytes '16777216', max_pages '1000', page_size '500',
    max_concurrency '4', requests_per_window '10', rate_window_ms '10000',
    cache_ttl_ms '0', default_window '24 hours', ca_file '/etc/ssl/certs/ca-certificates.crt');
ALTER SERVER good OPTIONS (SET url 'http://127.0.0.1:1');
ALTER SERVER good OPTIONS (SET url 'http://localhost:1/');
ALTER SERVER good OPTIONS (SET url 'http://[::1]:1');
ALTER SERVER good OPTIONS (SET url 'http://10.0.0.1:80');        -- ERROR
ALTER SERVER good OPTIONS (DROP api);                             -- ERROR: api is required
ALTER SERVER good OPTIONS (SET api 'pganalyze');
ALTER SERVER good OPTIONS (SET ca_file 'relative.pem');             -- ERROR: not an absolute path
ALTER SERVER good OPTIONS (DROP ca_file);

-- url and ca_file are superuser-only (C6): a role allowed to create servers
-- may not set them, nor change them on its own server
CREATE ROLE pgapi_opt_user;
GRANT USAGE ON FOREIGN DATA WRAPPER pgapi_fdw TO pgapi_opt_user;
SET ROLE pgapi_opt_user;
CREATE SERVER mine FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud', ca_file '/tmp/evil-ca.pem'); -- ERROR 42501
CREATE SERVER mine FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (api 'clickhouse_cloud');
ALTER SERVER mine OPTIONS (ADD ca_file '/tmp/evil-ca.pem');          -- ERROR 42501
\set VERBOSITY sqlstate
ALTER SERVER mine OPTIONS (ADD ca_file '/tmp/evil-ca.pem');          -- ERROR 42501
\set VERBOSITY default
DROP SERVER mine;
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER pgapi_fdw FROM pgapi_opt_user;
DROP ROLE pgapi_opt_user;

-- user mappings
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (key_id 'k', key_secret 's', tieout_ms '1'); -- ERROR
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (api_key '');  -- ERROR
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (api_key E'abc\r\nX-Injected: 1'); -- ERROR
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (url 'https://x.example'); -- ERROR: server option
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (api_key 'k');
CREATE USER MAPPING FOR PUBLIC SERVER good OPTIONS (api_key 'k');

-- foreign tables
CREATE FOREIGN TABLE ft_bad (id text) SERVER ch;                                   -- ERROR: no resource
CREATE FOREIGN TABLE ft_bad (id text) SERVER ch OPTIONS (resource 'postgres_service'); -- ERROR: closest match
CREATE FOREIGN TABLE ft_bad (id text) SERVER ch OPTIONS (resource 'postgres_services', updatable 'maybe'); -- ERROR
CREATE FOREIGN TABLE ft_bad (id text) SERVER ch OPTIONS (resource 'postgres_services', field 'x'); -- ERROR: column option
CREATE FOREIGN TABLE ft_bad (id text, stat text) SERVER ch OPTIONS (resource 'postgres_services'); -- ERROR: closest column
CREATE FOREIGN TABLE ft_bad (id text, nme text OPTIONS (fieldd 'name')) SERVER ch OPTIONS (resource 'postgres_services'); -- ERROR
CREATE FOREIGN TABLE ft_bad (id text, nme text OPTIONS (field '')) SERVER ch OPTIONS (resource 'postgres_services'); -- ERROR
CREATE FOREIGN TABLE ft_bad (id text) SERVER good OPTIONS (resource 'postgres_services'); -- ERROR: not a pganalyze resource
CREATE FOREIGN TABLE ft_ok (id text, display_name text OPTIONS (field 'name'), is_primary boolean)
  SERVER ch OPTIONS (resource 'postgres_services', updatable 'false');
ALTER FOREIGN TABLE ft_ok ADD COLUMN stat text;                                     -- ERROR: closest column
ALTER FOREIGN TABLE ft_ok ADD COLUMN stat text OPTIONS (field 'state');
ALTER FOREIGN TABLE ft_ok OPTIONS (SET resource 'organizations');                   -- ERROR: columns do not fit
\d ft_ok
DROP FOREIGN TABLE ft_ok;

-- the listing function reads the same descriptors as the planner
SELECT api, resource, count(*) AS columns,
       count(*) FILTER (WHERE key_column) AS key_columns,
       count(*) FILTER (WHERE sortable) AS sortable
FROM pgapi_fdw_resources() GROUP BY 1, 2 ORDER BY 1, 2;
SELECT column_name, column_type, api_field, key_column, required, pushed_operators, sortable
FROM pgapi_fdw_resources() WHERE resource = 'slow_query_patterns' ORDER BY column_name;

DROP SERVER good CASCADE;

/*-------------------------------------------------------------------------
 *
 * api_clickhouse.c
 *		  Resource descriptors of the ClickHouse Cloud Managed Postgres API.
 *
 * Data only: each resource is one static const descriptor (DESIGN.md,
 * "Resources").  Paths and parameters follow the OpenAPI extract in
 * shared/spec/clickhouse-cloud-postgres.openapi.json.  Column fields
 * default to the camelCase of the column name; a field is written out only
 * where it differs.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/api_clickhouse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgapi_fdw.h"

#define ORG_PATH "/v1/organizations/{organization_id}"
#define SERVICE_PATH ORG_PATH "/postgres/{service_id}"

/* Rows are the elements of "result" (an array), or "result" itself. */
static const PgApiRowStep result_rows[] = {{NULL, false}};

static const char *const providers[] = {"aws", NULL};
static const char *const versions[] = {"18", "17", NULL};
static const char *const ha_types[] = {"none", "async", "sync", NULL};
static const char *const sizes[] = {
	"c6gd.large", "c6gd.xlarge", "c6gd.2xlarge", "c6gd.4xlarge",
	"c6gd.8xlarge", "c6gd.16xlarge",
	"i7i.large", "i7i.xlarge", "i7i.2xlarge", "i7i.4xlarge", "i7i.8xlarge",
	"i7i.12xlarge", "i7i.16xlarge", "i7i.24xlarge",
	"i7ie.large", "i7ie.xlarge", "i7ie.2xlarge", "i7ie.3xlarge",
	"i7ie.6xlarge", "i7ie.12xlarge", "i7ie.18xlarge", "i7ie.24xlarge",
	"i8g.large", "i8g.xlarge", "i8g.2xlarge", "i8g.4xlarge", "i8g.8xlarge",
	"i8g.16xlarge", "i8g.24xlarge",
	"i8ge.large", "i8ge.xlarge", "i8ge.2xlarge", "i8ge.3xlarge",
	"i8ge.6xlarge", "i8ge.12xlarge", "i8ge.18xlarge", "i8ge.24xlarge",
	"m6gd.large", "m6gd.xlarge", "m6gd.2xlarge", "m6gd.4xlarge",
	"m6gd.8xlarge", "m6gd.16xlarge",
	"m6id.large", "m6id.xlarge", "m6id.2xlarge", "m6id.4xlarge",
	"m6id.8xlarge", "m6id.16xlarge",
	"m8gd.large", "m8gd.xlarge", "m8gd.2xlarge", "m8gd.4xlarge",
	"m8gd.8xlarge", "m8gd.16xlarge",
	"r6gd.medium", "r6gd.large", "r6gd.xlarge", "r6gd.2xlarge",
	"r6gd.4xlarge", "r6gd.8xlarge", "r6gd.12xlarge", "r6gd.16xlarge",
	"r6id.large", "r6id.xlarge", "r6id.2xlarge", "r6id.4xlarge",
	"r6id.8xlarge", "r6id.12xlarge", "r6id.16xlarge", "r6id.24xlarge",
	"r6id.32xlarge",
	"r8gd.medium", "r8gd.large", "r8gd.xlarge", "r8gd.2xlarge",
	"r8gd.4xlarge", "r8gd.8xlarge", "r8gd.12xlarge", "r8gd.16xlarge",
	"r8gd.24xlarge", "r8gd.48xlarge",
	NULL
};

/* A column read from the row object, nothing more. */
#define FIELD(name, type) \
	{name, type, NULL, 0, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL}
/* A field the list endpoint can sort by (sort_by value). */
#define SORTABLE(name, type, sortkey) \
	{name, type, NULL, 0, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT, sortkey, NULL, NULL, NULL}
/* The service a row belongs to: a path parameter echoed into the rows. */
#define SERVICE_ID_COLUMN \
	{"service_id", "text", NULL, 0, \
	 PGAPI_COL_KEY | PGAPI_COL_REQUIRED | PGAPI_COL_FANOUT | PGAPI_COL_ECHO, \
	 "service_id", PGAPI_LOC_PATH, PGAPI_FMT_ID, NULL, NULL, NULL, NULL}
/* Window bounds: query parameters, "=" only, echoed into the rows. */
#define WINDOW_COLUMNS \
	{"from_date", "timestamptz", NULL, 0, \
	 PGAPI_COL_KEY | PGAPI_COL_WINDOW_FROM | PGAPI_COL_SCALAR_ONLY | PGAPI_COL_ECHO, \
	 "from_date", PGAPI_LOC_QUERY, PGAPI_FMT_RFC3339, NULL, NULL, NULL, NULL}, \
	{"to_date", "timestamptz", NULL, 0, \
	 PGAPI_COL_KEY | PGAPI_COL_WINDOW_TO | PGAPI_COL_SCALAR_ONLY | PGAPI_COL_ECHO, \
	 "to_date", PGAPI_LOC_QUERY, PGAPI_FMT_RFC3339, NULL, NULL, NULL, NULL}
/* A row field that is also an exact-match query filter. */
#define FILTER(name, flags) \
	{name, "text", NULL, 0, PGAPI_COL_KEY | (flags), name, PGAPI_LOC_QUERY, \
	 PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL}

static const PgApiColumnDesc organization_columns[] = {
	FIELD("id", "text"),
	FIELD("name", "text"),
	FIELD("created_at", "timestamptz"),
	FIELD("private_endpoints", "jsonb"),
	FIELD("byoc_config", "jsonb"),
	FIELD("enable_core_dumps", "boolean"),
};

static const PgApiColumnDesc service_columns[] = {
	{"id", "text", NULL, 0, PGAPI_COL_KEY | PGAPI_COL_ID, "id",
	PGAPI_LOC_PATH, PGAPI_FMT_ID, NULL, NULL, NULL, NULL},
	{"name", "text", NULL, 0, PGAPI_COL_INSERT | PGAPI_COL_UPDATE, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL},
	{"provider", "text", NULL, 0, PGAPI_COL_INSERT, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, providers, NULL, NULL},
	{"region", "text", NULL, 0, PGAPI_COL_INSERT, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL},
	{"postgres_version", "text", NULL, 0, PGAPI_COL_INSERT, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, versions, NULL, NULL},
	{"size", "text", NULL, 0, PGAPI_COL_INSERT | PGAPI_COL_UPDATE, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, sizes, NULL, NULL},
	{"storage_size", "integer", NULL, 0, PGAPI_COL_INSERT | PGAPI_COL_DETAIL,
	NULL, PGAPI_LOC_NONE, PGAPI_FMT_INT, NULL, NULL, NULL, NULL},
	{"ha_type", "text", NULL, 0, PGAPI_COL_INSERT | PGAPI_COL_UPDATE, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, ha_types, NULL, NULL},
	{"tags", "jsonb", NULL, 0, PGAPI_COL_INSERT | PGAPI_COL_UPDATE, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL},
	FIELD("state", "text"),
	FIELD("created_at", "timestamptz"),
	FIELD("is_primary", "boolean"),
	{"hostname", "text", NULL, 0, PGAPI_COL_DETAIL, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL},
	{"username", "text", NULL, 0, PGAPI_COL_DETAIL, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL},
	{"connection_string", "text", NULL, 0, PGAPI_COL_DETAIL, NULL,
	PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL},
	FIELD("password", "text"),
};

/*
 * Keys of the pgConfig schema (additionalProperties: false).  On the "name"
 * column of postgres_config, "allowed" lists them: an UPDATE of another
 * name in section pg_config is refused before any request.  pgBouncerConfig
 * takes any key.
 */
static const char *const pg_config_keys[] = {
	"max_connections", "default_transaction_isolation",
	"ssl_min_protocol_version", "maintenance_work_mem", "work_mem",
	"effective_cache_size", "random_page_cost", "effective_io_concurrency",
	"max_worker_processes", "max_parallel_workers",
	"max_parallel_workers_per_gather", "max_parallel_maintenance_workers",
	"statement_timeout", "lock_timeout", "idle_session_timeout",
	"idle_in_transaction_session_timeout", "transaction_timeout",
	"wal_sender_timeout", "wal_keep_size", "min_wal_size", "max_wal_size",
	"max_slot_wal_keep_size", "wal_compression", "autovacuum_max_workers",
	"autovacuum_naptime", "autovacuum_work_mem",
	"autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor",
	"autovacuum_vacuum_insert_scale_factor", "autovacuum_vacuum_cost_limit",
	"autovacuum_vacuum_cost_delay",
	NULL
};

/* postgresInstanceConfigGet: {"pgConfig": {...}, "pgBouncerConfig": {...}} */
static const PgApiRowStep config_rows[] = {{NULL, true}, {NULL, true}};
static const char *const config_sections[] = {
	"pgConfig", "pg_config", "pgBouncerConfig", "pgbouncer_config", NULL
};

static const PgApiColumnDesc config_columns[] = {
	SERVICE_ID_COLUMN,
	{"section", "text", "$key", 1, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT,
	NULL, NULL, config_sections, NULL},
	{"name", "text", "$key", 0, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT,
	NULL, pg_config_keys, NULL, NULL},
	{"value", "text", "$value", 0, PGAPI_COL_UPDATE, NULL, PGAPI_LOC_NONE,
	PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL},
};

/* slowQueryPatternsGetList; sort keys per DESIGN.md "sort_by mapping" */
static const PgApiColumnDesc pattern_columns[] = {
	SERVICE_ID_COLUMN,
	WINDOW_COLUMNS,
	FIELD("query_id", "bigint"),
	FIELD("query_text", "text"),
	FILTER("db_name", 0),
	FILTER("db_user", 0),
	FILTER("db_operation", 0),
	FILTER("app", 0),
	SORTABLE("call_count", "bigint", "call_count"),
	SORTABLE("error_count", "bigint", "error_count"),
	SORTABLE("total_duration_us", "bigint", "total_duration"),
	SORTABLE("avg_duration_us", "bigint", "avg_duration"),
	SORTABLE("max_duration_us", "bigint", "max_duration"),
	SORTABLE("p50_duration_us", "bigint", "p50_duration"),
	SORTABLE("p95_duration_us", "bigint", "p95_duration"),
	SORTABLE("p99_duration_us", "bigint", "p99_duration"),
	SORTABLE("total_rows", "bigint", "total_rows"),
	FIELD("total_shared_blks_read", "bigint"),
	SORTABLE("total_shared_blks_hit", "bigint", "total_shared_blks_hit"),
	SORTABLE("total_cpu_time_us", "bigint", "total_cpu_time"),
	SORTABLE("total_wal_bytes", "bigint", "total_wal_bytes"),
};

/* slowQueryPatternGet: one row per "recentExecutions" element */
static const PgApiRowStep execution_rows[] = {{"recentExecutions", false}};

static const PgApiColumnDesc execution_columns[] = {
	SERVICE_ID_COLUMN,
	{"query_id", "bigint", NULL, 0,
	PGAPI_COL_KEY | PGAPI_COL_REQUIRED, "query_id", PGAPI_LOC_PATH,
	PGAPI_FMT_INT, NULL, NULL, NULL, NULL},
	FILTER("db_name", PGAPI_COL_REQUIRED),
	FILTER("db_user", PGAPI_COL_REQUIRED),
	FILTER("db_operation", PGAPI_COL_REQUIRED),
	FILTER("app", 0),
	FIELD("timestamp", "timestamptz"),
	FIELD("query_text", "text"),
	FIELD("pid", "text"),
	FIELD("duration_us", "bigint"),
	FIELD("rows", "bigint"),
	FIELD("shared_blks_hit", "bigint"),
	FIELD("shared_blks_read", "bigint"),
	FIELD("shared_blks_written", "bigint"),
	FIELD("shared_blks_dirtied", "bigint"),
	FIELD("shared_blk_read_time_us", "bigint"),
	FIELD("shared_blk_write_time_us", "bigint"),
	FIELD("local_blks_hit", "bigint"),
	FIELD("local_blks_read", "bigint"),
	FIELD("local_blks_written", "bigint"),
	FIELD("local_blks_dirtied", "bigint"),
	FIELD("temp_blks_read", "bigint"),
	FIELD("temp_blks_written", "bigint"),
	FIELD("temp_blk_read_time_us", "bigint"),
	FIELD("temp_blk_write_time_us", "bigint"),
	FIELD("wal_records", "bigint"),
	FIELD("wal_bytes", "bigint"),
	FIELD("wal_fpi", "bigint"),
	FIELD("cpu_user_time_us", "bigint"),
	FIELD("cpu_sys_time_us", "bigint"),
	FIELD("jit_functions", "bigint"),
	FIELD("jit_generation_time_us", "bigint"),
	FIELD("jit_inlining_time_us", "bigint"),
	FIELD("jit_optimization_time_us", "bigint"),
	FIELD("jit_emission_time_us", "bigint"),
	FIELD("jit_deform_time_us", "bigint"),
	FIELD("parallel_workers_planned", "integer"),
	FIELD("parallel_workers_launched", "integer"),
	FIELD("err_message", "text"),
	FIELD("err_sqlstate", "text"),
	FIELD("err_elevel", "integer"),
	FIELD("server_role", "text"),
	FIELD("trace_id", "text"),
	FIELD("span_id", "text"),
};

/*
 * postgresInstanceMetricsGet: {"metrics": [{"key", "name", "unit",
 * "description", "series": [{"label", "dataPoints": [{"timestamp",
 * "value"}]}]}]}; one row per data point.
 */
static const PgApiRowStep metrics_rows[] = {
	{"metrics", false}, {"series", false}, {"dataPoints", false}
};

static const PgApiColumnDesc metrics_columns[] = {
	SERVICE_ID_COLUMN,
	WINDOW_COLUMNS,
	{"bucket_size_seconds", "integer", NULL, 0,
	 PGAPI_COL_KEY | PGAPI_COL_SCALAR_ONLY | PGAPI_COL_ECHO | PGAPI_COL_BUCKET,
	 "bucket_size_seconds", PGAPI_LOC_QUERY, PGAPI_FMT_INT, NULL, NULL, NULL, NULL},
	{"metric", "text", "key", 2, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT,
	 NULL, NULL, NULL, NULL},
	{"name", "text", NULL, 2, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT,
	 NULL, NULL, NULL, NULL},
	{"unit", "text", NULL, 2, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT,
	 NULL, NULL, NULL, NULL},
	{"description", "text", NULL, 2, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT,
	 NULL, NULL, NULL, NULL},
	{"series", "text", "label", 1, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT,
	 NULL, NULL, NULL, NULL},
	{"ts", "timestamptz", "timestamp", 0, 0, NULL, PGAPI_LOC_NONE,
	 PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL},
	FIELD("value", "double precision"),
};

/*
 * postgresPrometheusGet (org-wide) and postgresInstancePrometheusGet:
 * Prometheus text, turned by prometheus.c into {"result": [{"metric",
 * "labels", "value", "serviceId"}]}, one row per sample.  service_id comes
 * from the sample's "postgres_service" label; "service_id =" selects the
 * per-service endpoint (the single_path).
 */
static const PgApiColumnDesc prometheus_columns[] = {
	FIELD("metric", "text"),
	FIELD("labels", "jsonb"),
	FIELD("value", "double precision"),
	{"service_id", "text", NULL, 0, PGAPI_COL_KEY | PGAPI_COL_ID,
	 "service_id", PGAPI_LOC_PATH, PGAPI_FMT_ID, NULL, NULL, NULL, NULL},
};

const PgApiResourceDesc pgapi_clickhouse_resources[] = {
	{
		.name = "organizations",
		.api = PGAPI_CLICKHOUSE,
		.description = "Organizations the API key can see",
		.path = "/v1/organizations",
		.steps = result_rows,
		.nsteps = lengthof(result_rows),
		.rows_estimate = 1,
		.columns = organization_columns,
		.ncolumns = lengthof(organization_columns),
	},
	{
		.name = "postgres_services",
		.api = PGAPI_CLICKHOUSE,
		.description = "Managed Postgres services of the organization",
		.path = ORG_PATH "/postgres",
		.single_path = ORG_PATH "/postgres/{id}",
		.steps = result_rows,
		.nsteps = lengthof(result_rows),
		.rows_estimate = 10,
		.columns = service_columns,
		.ncolumns = lengthof(service_columns),
		.insert_path = ORG_PATH "/postgres",
		.update_path = ORG_PATH "/postgres/{id}",
		.delete_path = ORG_PATH "/postgres/{id}",
		.name_field = "name",
		.tag_field = "tags",
	},
	{
		.name = "postgres_config",
		.fanout_resource = "postgres_services",
		.fanout_column = "id",
		.api = PGAPI_CLICKHOUSE,
		.description = "Postgres and PgBouncer parameters of a service, one row each",
		.path = SERVICE_PATH "/config",
		.steps = config_rows,
		.nsteps = lengthof(config_rows),
		.rows_estimate = 20,
		.columns = config_columns,
		.ncolumns = lengthof(config_columns),
		.update_path = SERVICE_PATH "/config",
	},
	{
		.name = "slow_query_patterns",
		.fanout_resource = "postgres_services",
		.fanout_column = "id",
		.api = PGAPI_CLICKHOUSE,
		.description = "Slowest query patterns of a service in a time window",
		.path = SERVICE_PATH "/slowQueryPatterns",
		.steps = result_rows,
		.nsteps = lengthof(result_rows),
		.paging = PGAPI_PAGING_LIMIT_OFFSET,
		.max_page_size = 500,
		.rows_estimate = 1000,
		.columns = pattern_columns,
		.ncolumns = lengthof(pattern_columns),
	},
	{
		.name = "slow_query_executions",
		.fanout_resource = "postgres_services",
		.fanout_column = "id",
		.api = PGAPI_CLICKHOUSE,
		.description = "Recent executions of one slow query pattern",
		.path = SERVICE_PATH "/slowQueryPatterns/{query_id}",
		.steps = execution_rows,
		.nsteps = lengthof(execution_rows),
		.rows_estimate = 10,
		.columns = execution_columns,
		.ncolumns = lengthof(execution_columns),
	},
	{
		.name = "postgres_metrics",
		.fanout_resource = "postgres_services",
		.fanout_column = "id",
		.api = PGAPI_CLICKHOUSE,
		.description = "Metrics of a service over a time window, one row per data point",
		.path = SERVICE_PATH "/metrics",
		.steps = metrics_rows,
		.nsteps = lengthof(metrics_rows),
		.rows_estimate = 1000,
		.columns = metrics_columns,
		.ncolumns = lengthof(metrics_columns),
	},
	{
		.name = "postgres_prometheus",
		.api = PGAPI_CLICKHOUSE,
		.description = "Current Prometheus samples of the services, one row per sample",
		.path = ORG_PATH "/postgres/prometheus",
		.single_path = SERVICE_PATH "/prometheus",
		.body = PGAPI_BODY_PROMETHEUS,
		.steps = result_rows,
		.nsteps = lengthof(result_rows),
		.rows_estimate = 100,
		.columns = prometheus_columns,
		.ncolumns = lengthof(prometheus_columns),
	},
};

const int	pgapi_clickhouse_nresources = lengthof(pgapi_clickhouse_resources);

/*-------------------------------------------------------------------------
 *
 * api_pganalyze.c
 *		  Resource descriptors of the pganalyze GraphQL API.
 *
 * Data only.  Fields and arguments follow the labelled reconstruction in
 * shared/spec/pganalyze.reconstructed.graphql.  Column fields default to
 * the camelCase of the column name.  The selection set of each request is
 * built from the columns a query needs (graphql.c), so the slow
 * tableNames is asked for only when table_names is used.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/api_pganalyze.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgapi_fdw.h"

static const PgApiRowStep list_rows[] = {{NULL, false}};
static const PgApiRowStep database_rows[] = {{NULL, false}, {"databases", false}};

static const char *const severities[] = {"info", "warning", "critical", NULL};

#define FIELD(name, type) \
	{name, type, NULL, 0, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL}
#define LEVEL_FIELD(name, type, field, level) \
	{name, type, field, level, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL}
/* A GraphQL argument echoed into the rows. */
#define ARGUMENT(name, type, param, flags, format) \
	{name, type, NULL, 0, PGAPI_COL_KEY | PGAPI_COL_ECHO | (flags), param, \
	 PGAPI_LOC_VARIABLE, format, NULL, NULL, NULL, NULL}
/* A row field that is also an exact-match argument. */
#define FILTER(name, type, param, flags) \
	{name, type, NULL, 0, PGAPI_COL_KEY | (flags), param, \
	 PGAPI_LOC_VARIABLE, PGAPI_FMT_TEXT, NULL, NULL, NULL, NULL}

static const PgApiColumnDesc query_stats_columns[] = {
	ARGUMENT("database_id", "text", "databaseId", PGAPI_COL_REQUIRED, PGAPI_FMT_TEXT),
	ARGUMENT("start_ts", "timestamptz", "startTs",
			 PGAPI_COL_WINDOW_FROM | PGAPI_COL_SCALAR_ONLY, PGAPI_FMT_UNIX),
	ARGUMENT("end_ts", "timestamptz", "endTs",
			 PGAPI_COL_WINDOW_TO | PGAPI_COL_SCALAR_ONLY, PGAPI_FMT_UNIX),
	FIELD("id", "text"),
	FIELD("query_url", "text"),
	FIELD("normalized_query", "text"),
	FIELD("truncated_query", "text"),
	FIELD("query_comment", "text"),
	FIELD("statement_types", "text[]"),
	FIELD("table_names", "text[]"),
	FIELD("total_calls", "bigint"),
	FIELD("avg_time", "double precision"),
	FIELD("avg_io_time", "double precision"),
	FIELD("buffer_hit_ratio", "double precision"),
	FIELD("pct_of_total", "double precision"),
};

static const PgApiColumnDesc server_columns[] = {
	ARGUMENT("organization_slug", "text", "organizationSlug", PGAPI_COL_SCALAR_ONLY,
			 PGAPI_FMT_TEXT),
	ARGUMENT("with_recent_data", "boolean", "withRecentData", PGAPI_COL_SCALAR_ONLY,
			 PGAPI_FMT_BOOL),
	FIELD("id", "text"),
	FIELD("human_id", "text"),
	FIELD("name", "text"),
	FILTER("system_type", "text", "systemType", PGAPI_COL_SCALAR_ONLY),
	FILTER("system_scope", "text", "systemScope", PGAPI_COL_SCALAR_ONLY),
	FILTER("system_id", "text", "systemId", PGAPI_COL_SCALAR_ONLY),
	FIELD("last_snapshot_at", "timestamptz"),
};

static const PgApiColumnDesc database_columns[] = {
	LEVEL_FIELD("server_id", "text", "id", 1),
	LEVEL_FIELD("server_human_id", "text", "humanId", 1),
	FIELD("id", "text"),
	FIELD("datname", "text"),
	FIELD("display_name", "text"),
};

static const PgApiColumnDesc issue_columns[] = {
	ARGUMENT("server_human_id", "text", "serverId", PGAPI_COL_FANOUT, PGAPI_FMT_TEXT),
	FILTER("database_id", "text", "databaseId", PGAPI_COL_FANOUT_ALT),
	FIELD("id", "text"),
	FIELD("description", "text"),
	{"severity", "text", NULL, 0, PGAPI_COL_KEY | PGAPI_COL_GQL_LIST, "severity",
	PGAPI_LOC_VARIABLE, PGAPI_FMT_TEXT, NULL, severities, NULL, NULL},
	FILTER("state", "text", "state", PGAPI_COL_SCALAR_ONLY),
	{"references", "jsonb", NULL, 0, 0, NULL, PGAPI_LOC_NONE, PGAPI_FMT_TEXT,
	NULL, NULL, NULL, "kind name url queryText"},
	FIELD("check_group_and_name", "text"),
	FIELD("created_at", "timestamptz"),
	FIELD("updated_at", "timestamptz"),
};

const PgApiResourceDesc pgapi_pganalyze_resources[] = {
	{
		.name = "query_stats",
		.api = PGAPI_PGANALYZE,
		.description = "Top queries of a database by share of runtime",
		.gql_field = "getQueryStats",
		.gql_args = "databaseId: ID!, startTs: Int, endTs: Int",
		.steps = list_rows,
		.nsteps = lengthof(list_rows),
		.rows_estimate = 100,
		.columns = query_stats_columns,
		.ncolumns = lengthof(query_stats_columns),
	},
	{
		.name = "servers",
		.api = PGAPI_PGANALYZE,
		.description = "Servers monitored by pganalyze",
		.gql_field = "getServers",
		.gql_args = "organizationSlug: ID, withRecentData: Boolean, systemType: String, systemScope: String, systemId: String",
		.steps = list_rows,
		.nsteps = lengthof(list_rows),
		.rows_estimate = 5,
		.columns = server_columns,
		.ncolumns = lengthof(server_columns),
	},
	{
		.name = "databases",
		.api = PGAPI_PGANALYZE,
		.description = "Databases of the monitored servers",
		.gql_field = "getServers",
		.gql_args = "",
		.steps = database_rows,
		.nsteps = lengthof(database_rows),
		.rows_estimate = 10,
		.columns = database_columns,
		.ncolumns = lengthof(database_columns),
	},
	{
		.name = "issues",
		.api = PGAPI_PGANALYZE,
		.description = "Check-up issues of a server or database",
		.gql_field = "getIssues",
		.gql_args = "serverId: ID, databaseId: ID, severity: [String], state: String",
		.fanout_resource = "servers",
		.fanout_column = "human_id",
		.steps = list_rows,
		.nsteps = lengthof(list_rows),
		.rows_estimate = 20,
		.columns = issue_columns,
		.ncolumns = lengthof(issue_columns),
	},
};

const int	pgapi_pganalyze_nresources = lengthof(pgapi_pganalyze_resources);

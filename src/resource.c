/*-------------------------------------------------------------------------
 *
 * resource.c
 *		  The registry of resource descriptors: lookup, closest match, the
 *		  check of foreign table definitions and the listing function.
 *
 * The descriptors themselves are data in api_clickhouse.c and
 * api_pganalyze.c.  Everything that needs to know what a resource offers
 * asks here.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/resource.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/tupdesc.h"
#include "catalog/pg_attribute.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "pgapi_fdw.h"

PG_FUNCTION_INFO_V1(pgapi_fdw_resources);
PG_FUNCTION_INFO_V1(pgapi_fdw_check_tables);

typedef struct PgApiRegistry
{
	PgApiKind	api;
	const char *option_value;	/* value of the server option "api" */
	const char *display_name;	/* used in messages */
	const PgApiResourceDesc *resources;
	const int  *nresources;
} PgApiRegistry;

static const PgApiRegistry registries[] = {
	{PGAPI_CLICKHOUSE, "clickhouse_cloud", "ClickHouse Cloud",
	pgapi_clickhouse_resources, &pgapi_clickhouse_nresources},
	{PGAPI_PGANALYZE, "pganalyze", "pganalyze",
	pgapi_pganalyze_resources, &pgapi_pganalyze_nresources},
};

const char *
pgapi_api_name(PgApiKind api)
{
	return registries[api].display_name;
}

const char *
pgapi_api_option_value(PgApiKind api)
{
	return registries[api].option_value;
}

/*
 * pgapi_find_resource
 *		The descriptor of a resource by name, whatever its API, or NULL.
 */
const PgApiResourceDesc *
pgapi_find_resource(const char *name)
{
	for (int r = 0; r < (int) lengthof(registries); r++)
		for (int i = 0; i < *registries[r].nresources; i++)
			if (strcmp(registries[r].resources[i].name, name) == 0)
				return &registries[r].resources[i];
	return NULL;
}

/*
 * pgapi_lookup_resource
 *		The descriptor of a resource of the given API; ERROR when there is
 *		none, with the closest name as a hint.
 */
const PgApiResourceDesc *
pgapi_lookup_resource(const char *name, PgApiKind api)
{
	const PgApiRegistry *reg = &registries[api];
	const char *cands[64] = {0};
	int			n = 0;
	const char *closest;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table has no \"resource\" option"),
				 errhint("Add one with ALTER FOREIGN TABLE ... OPTIONS (ADD resource '...').")));

	for (int i = 0; i < *reg->nresources; i++)
	{
		if (strcmp(reg->resources[i].name, name) == 0)
			return &reg->resources[i];
		if (n < (int) lengthof(cands))
			cands[n++] = reg->resources[i].name;
	}

	closest = pgapi_closest_match(name, cands, n);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
			 errmsg("the %s API has no resource \"%s\"", reg->display_name, name),
			 closest ? errhint("Perhaps you meant the resource \"%s\".", closest) :
			 errhint("SELECT DISTINCT resource FROM pgapi_fdw_resources() WHERE api = '%s' lists them.",
					 reg->option_value)));
	return NULL;				/* keep compiler quiet */
}

/*
 * pgapi_find_column
 *		The descriptor of a resource's column by SQL name, or NULL.
 */
const PgApiColumnDesc *
pgapi_find_column(const PgApiResourceDesc *res, const char *name)
{
	for (int i = 0; i < res->ncolumns; i++)
		if (strcmp(res->columns[i].name, name) == 0)
			return &res->columns[i];
	return NULL;
}

/*
 * pgapi_default_field
 *		The API field a column reads by default: its name in camelCase, so
 *		"total_duration_us" reads "totalDurationUs".  palloc'd.
 */
char *
pgapi_default_field(const char *colname)
{
	char	   *out = palloc(strlen(colname) + 1);
	char	   *o = out;
	bool		upper = false;

	for (const char *p = colname; *p; p++)
	{
		if (*p == '_' && o != out)
		{
			upper = true;
			continue;
		}
		*o++ = upper ? pg_toupper((unsigned char) *p) : *p;
		upper = false;
	}
	*o = '\0';
	return out;
}

/*
 * pgapi_check_foreign_table
 *		Check a foreign table of this wrapper against its resource: the
 *		resource must belong to the server's API, and every column must be
 *		one the resource knows or carry a "field" option.  Called by the
 *		event trigger at CREATE/ALTER time and by the planner.
 */
void
pgapi_check_foreign_table(Oid relid)
{
	ForeignTable *table = GetForeignTable(relid);
	PgApiServerOptions sopts;
	PgApiTableOptions topts;
	const PgApiResourceDesc *res;
	Relation	rel;
	TupleDesc	tupdesc;

	pgapi_get_server_options(table->serverid, &sopts);
	pgapi_get_table_options(relid, &topts);
	res = pgapi_lookup_resource(topts.resource, sopts.api);

	rel = relation_open(relid, AccessShareLock);
	tupdesc = RelationGetDescr(rel);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		const char *cands[128];
		int			n = 0;
		const char *closest;

		if (att->attisdropped)
			continue;
		if (pgapi_find_column(res, NameStr(att->attname)) != NULL)
			continue;
		if (pgapi_get_column_field(relid, att->attnum) != NULL)
			continue;

		for (int c = 0; c < res->ncolumns && n < (int) lengthof(cands); c++)
			cands[n++] = res->columns[c].name;
		closest = pgapi_closest_match(NameStr(att->attname), cands, n);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("resource \"%s\" has no column \"%s\"",
						res->name, NameStr(att->attname)),
				 errdetail("Foreign table \"%s\" maps resource \"%s\" of the %s API.",
						   RelationGetRelationName(rel), res->name,
						   pgapi_api_name(sopts.api)),
				 closest ? errhint("Perhaps you meant the column \"%s\", or give the column a \"field\" option naming the API field.",
								   closest) :
				 errhint("Give the column a \"field\" option naming the API field it reads.")));
	}
	relation_close(rel, AccessShareLock);
}

/*
 * pgapi_fdw_check_tables
 *		Event trigger at ddl_command_end: check every foreign table of this
 *		wrapper that the command created or altered.
 */
Datum
pgapi_fdw_check_tables(PG_FUNCTION_ARGS)
{
	int			ret;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"pgapi_fdw_check_tables\" must be called as an event trigger")));

	SPI_connect();
	ret = SPI_execute("SELECT DISTINCT c.objid "
					  "FROM pg_catalog.pg_event_trigger_ddl_commands() c "
					  "JOIN pg_catalog.pg_foreign_table ft ON ft.ftrelid = c.objid "
					  "JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver "
					  "JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw "
					  "WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
					  "AND w.fdwhandler = 'pgapi_fdw_handler'::pg_catalog.regproc",
					  false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			pgapi_check_foreign_table(DatumGetObjectId(d));
	}
	SPI_finish();

	PG_RETURN_VOID();
}

static const char *
pushed_operators(const PgApiResourceDesc *res, const PgApiColumnDesc *col)
{
	if (!(col->flags & PGAPI_COL_KEY))
		return NULL;
	if (col->flags & PGAPI_COL_SCALAR_ONLY)
		return "=";
	return "=, IN";
}

/*
 * pgapi_fdw_resources
 *		SQL-callable listing of every resource and column, read from the
 *		descriptors (the same tables the planner uses).
 */
Datum
pgapi_fdw_resources(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);

	for (int r = 0; r < (int) lengthof(registries); r++)
	{
		for (int i = 0; i < *registries[r].nresources; i++)
		{
			const PgApiResourceDesc *res = &registries[r].resources[i];
			bool		res_writable = res->insert_path || res->update_path ||
				res->delete_path;

			for (int c = 0; c < res->ncolumns; c++)
			{
				const PgApiColumnDesc *col = &res->columns[c];
				Datum		values[11];
				bool		nulls[11] = {0};
				const char *ops = pushed_operators(res, col);
				const char *field = col->field;

				values[0] = CStringGetTextDatum(registries[r].option_value);
				values[1] = CStringGetTextDatum(res->name);
				values[2] = CStringGetTextDatum(col->name);
				values[3] = CStringGetTextDatum(col->type);
				if (col->flags & PGAPI_COL_ECHO)
					nulls[4] = true;	/* echoed request parameter */
				else
					values[4] = CStringGetTextDatum(field ? field :
													pgapi_default_field(col->name));
				values[5] = BoolGetDatum((col->flags & PGAPI_COL_KEY) != 0);
				values[6] = BoolGetDatum((col->flags & PGAPI_COL_REQUIRED) != 0 &&
										 (col->flags & PGAPI_COL_FANOUT) == 0);
				if (ops)
					values[7] = CStringGetTextDatum(ops);
				else
					nulls[7] = true;
				values[8] = BoolGetDatum(col->sort_by != NULL);
				values[9] = BoolGetDatum(res_writable &&
										 (col->flags & (PGAPI_COL_INSERT | PGAPI_COL_UPDATE)) != 0);
				values[10] = CStringGetTextDatum(res->description);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
									 values, nulls);
			}
		}
	}

	return (Datum) 0;
}

/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA: one foreign table per resource.
 *
 * The remote schema is the API itself ("clickhouse_cloud" or
 * "pganalyze", the value of the server's "api" option).  Each resource
 * becomes a CREATE FOREIGN TABLE whose columns are the descriptor's
 * columns, in descriptor order, with the descriptor's types: the same
 * tables the planner, the executor and pgapi_fdw_resources() read, so the
 * imported definitions cannot drift from what the scanner understands.
 *
 * Imported tables are read-only (no "updatable" option, DESIGN.md
 * "Clarifications, IMPORT FOREIGN SCHEMA") and carry no credential: keys
 * live on user mappings only.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "foreign/foreign.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "pgapi_fdw.h"

/* The resources of one API, as the registry in resource.c holds them. */
static void
api_resources(PgApiKind api, const PgApiResourceDesc **resources, int *n)
{
	if (api == PGAPI_CLICKHOUSE)
	{
		*resources = pgapi_clickhouse_resources;
		*n = pgapi_clickhouse_nresources;
	}
	else
	{
		*resources = pgapi_pganalyze_resources;
		*n = pgapi_pganalyze_nresources;
	}
}

/* Is the resource named in the LIMIT TO / EXCEPT list? */
static bool
listed(const PgApiResourceDesc *res, List *table_list)
{
	ListCell   *lc;

	foreach(lc, table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);

		if (strcmp(rv->relname, res->name) == 0)
			return true;
	}
	return false;
}

/*
 * The CREATE FOREIGN TABLE command of one resource, palloc'd.  The table
 * name is unqualified: PostgreSQL puts it into the statement's local
 * schema.  Identifiers go through quote_identifier() and the resource
 * name through quote_literal_cstr(); column types are the descriptor's
 * (trusted, constant data).
 */
static char *
create_table_command(const PgApiResourceDesc *res, const char *servername)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (\n",
					 quote_identifier(res->name));
	for (int c = 0; c < res->ncolumns; c++)
		appendStringInfo(&buf, "  %s %s%s\n",
						 quote_identifier(res->columns[c].name),
						 res->columns[c].type,
						 c + 1 < res->ncolumns ? "," : "");
	appendStringInfo(&buf, ") SERVER %s\nOPTIONS (resource %s)",
					 quote_identifier(servername),
					 quote_literal_cstr(res->name));
	return buf.data;
}

/*
 * pgapiImportForeignSchema
 *		The FDW callback.  Returns a list of CREATE FOREIGN TABLE commands
 *		(C strings in CurrentMemoryContext) for the resources of the
 *		server's API that LIMIT TO / EXCEPT select.  Makes no request.
 *
 *		ERRORs: a remote schema other than the server's API (HV00P), an
 *		IMPORT option (none is supported, HV00D), and a LIMIT TO / EXCEPT
 *		name that is no resource of the API (HV00R, with the closest
 *		name), since PostgreSQL would otherwise ignore a misspelt name
 *		silently.
 */
List *
pgapiImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	PgApiServerOptions sopts;
	const char *schema;
	const PgApiResourceDesc *resources;
	int			nresources;
	List	   *commands = NIL;
	ListCell   *lc;

	pgapi_get_server_options(serverOid, &sopts);
	schema = pgapi_api_option_value(sopts.api);

	if (strcmp(stmt->remote_schema, schema) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("schema \"%s\" is not available on foreign server \"%s\"",
						stmt->remote_schema, server->servername),
				 errdetail("Server \"%s\" talks to the %s API, whose only schema is \"%s\".",
						   server->servername, pgapi_api_name(sopts.api), schema),
				 errhint("Use IMPORT FOREIGN SCHEMA %s FROM SERVER %s INTO a local schema.",
						 schema, quote_identifier(server->servername))));

	foreach(lc, stmt->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid IMPORT FOREIGN SCHEMA option \"%s\"", def->defname),
				 errdetail("pgapi_fdw takes no import options.")));
	}

	/* a name in LIMIT TO / EXCEPT that is no resource is a mistake */
	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);

		(void) pgapi_lookup_resource(rv->relname, sopts.api);
	}

	api_resources(sopts.api, &resources, &nresources);
	for (int i = 0; i < nresources; i++)
	{
		const PgApiResourceDesc *res = &resources[i];

		if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO &&
			!listed(res, stmt->table_list))
			continue;
		if (stmt->list_type == FDW_IMPORT_SCHEMA_EXCEPT &&
			listed(res, stmt->table_list))
			continue;
		commands = lappend(commands,
						   create_table_command(res, server->servername));
	}
	return commands;
}

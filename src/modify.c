/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  Writes: INSERT, UPDATE and DELETE on foreign tables, the service
 *		  command function and the journal of remote writes.
 *
 * Remote writes are not transactional (DESIGN.md "Writes"): each row goes
 * out when the executor processes it, as one POST, PATCH or DELETE, never
 * retried (http.c sends non-idempotent requests on a fresh connection and
 * reports an ambiguous outcome as 40003).  What went out is remembered in a
 * per-transaction journal: ROLLBACK prints one WARNING per change that was
 * not undone (RELIABILITY W1), and PREPARE TRANSACTION is refused (W4).
 *
 * Everything that can be refused is refused before any request: writes to
 * a table without "updatable 'true'", columns the API cannot change, values
 * outside the API's enums, and UPDATE/DELETE that do not name the objects
 * with a pushed "id =" condition (W5).  Plain EXPLAIN sends nothing (W3).
 *
 * UPDATE and DELETE identify rows by row-identity columns added in
 * AddForeignUpdateTargets: the resource's PGAPI_COL_ID column, or, for a
 * resource without one (postgres_config), its path key columns and the
 * "$key" columns (service_id, section, name).
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/modify.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "pgapi_fdw.h"

PG_FUNCTION_INFO_V1(pgapi_fdw_service_command);

/* Key of the tag that a create carries, to find it after an unknown outcome */
#define PGAPI_CORRELATION_KEY "pgapi_fdw_request"

/* UPDATE may name at most this many ids with "id IN (...)" (W5) */
#define PGAPI_MAX_MODIFIED_ROWS 10

/* Prefix of the row-identity junk columns: "pgapi_id", ... */
#define PGAPI_JUNK_PREFIX "pgapi_"

/*
 * Indexes of the items of ModifyTable.fdw_private.  Must match the list
 * built in pgapiPlanForeignModify.
 */
enum PgApiModifyPrivateIndex
{
	FdwModifyPrivateResource,	/* String: resource name */
	FdwModifyPrivateTargetAttrs,	/* Integer list: attnums UPDATE sends */
	FdwModifyPrivateExplain		/* List of String: request lines */
};

/* Executor state of a foreign table modification. */
typedef struct PgApiModifyState
{
	Relation	rel;
	char	   *relname;
	CmdType		operation;
	const PgApiResourceDesc *res;
	PgApiServerOptions opts;
	UserMapping *user;
	PgApiConnection *conn;
	char	   *organization_id;	/* NULL until the first write needs it */
	List	   *target_attrs;
	List	   *explain_lines;
	int		   *attcol;			/* attnum - 1 -> column index, or -1 */
	PgApiJsonPath **paths;		/* attnum - 1 -> field of the response */
	PgApiColumnConv *convs;		/* attnum - 1 -> conversion */
	AttrNumber *junk_attno;		/* column index -> junk attno, or 0 */
	MemoryContext temp_cxt;		/* reset per row */
	int			cur_attnum;		/* for the conversion error context */
	PgApiStats	stats;
	bool		explain_only;
} PgApiModifyState;

/* One remote write of the current transaction (W1). */
typedef struct PgApiWrite
{
	char	   *method;
	char	   *path;
	char	   *what;			/* a sentence for DETAIL */
} PgApiWrite;

/* The journal of remote writes; TopMemoryContext, emptied at xact end. */
static List *write_journal = NIL;

/* ----------------------------------------------------------------
 *		Journal and transaction callbacks
 * ----------------------------------------------------------------
 */

/* Remember a write that the API has accepted (or may have). */
static void
journal_write(PgApiMethod method, const char *path, const char *what)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	PgApiWrite *w = palloc(sizeof(PgApiWrite));

	w->method = pstrdup(pgapi_method_name(method));
	w->path = pstrdup(path);
	w->what = pstrdup(what);
	write_journal = lappend(write_journal, w);
	MemoryContextSwitchTo(oldcxt);
}

static void
journal_clear(void)
{
	ListCell   *lc;

	foreach(lc, write_journal)
	{
		PgApiWrite *w = lfirst(lc);

		pfree(w->method);
		pfree(w->path);
		pfree(w->what);
		pfree(w);
	}
	list_free(write_journal);
	write_journal = NIL;
}

/*
 * At ROLLBACK, say what was not undone; refuse PREPARE TRANSACTION after a
 * remote write, since nothing could make the prepared transaction's fate
 * apply to it.
 */
static void
modify_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (write_journal != NIL)
			{
				int			n = list_length(write_journal);

				/*
				 * The error says it all; no WARNINGs at the abort that
				 * follows (they would race the ERROR in the client's output).
				 */
				journal_clear();
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that has made remote changes through pgapi_fdw"),
						 errdetail_plural("%d remote change was applied at once and is not undone by the rollback of this transaction.",
										  "%d remote changes were applied at once and are not undone by the rollback of this transaction.",
										  n, n)));
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			{
				List	   *writes = write_journal;
				ListCell   *lc;

				write_journal = NIL;
				foreach(lc, writes)
				{
					PgApiWrite *w = lfirst(lc);

					ereport(WARNING,
							(errmsg("remote change was not undone: %s %s",
									w->method, w->path),
							 errdetail_internal("%s", w->what),
							 errhint("Remote API writes are not transactional.")));
				}
				write_journal = writes;
				journal_clear();
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			journal_clear();
			break;
		default:
			break;
	}
}

/*
 * pgapi_modify_init
 *		Called once from _PG_init.
 */
void
pgapi_modify_init(void)
{
	RegisterXactCallback(modify_xact_callback, NULL);
}

/* errcontext naming the object a write is about */
static void
write_error_callback(void *arg)
{
	errcontext("%s", (const char *) arg);
}

/*
 * Run one write request, never retried (http.c: not idempotent, fresh
 * connection, 40003 when the outcome is unknown), with an error context
 * naming the object, and journal it once the API has answered.  A 404 is
 * an answer when allow_404.
 */
static void
execute_write(PgApiConnection *conn, PgApiRequest *req, PgApiStats *stats,
			  const char *what, const char *done)
{
	ErrorContextCallback errcallback;

	errcallback.callback = write_error_callback;
	errcallback.arg = (void *) what;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	pgapi_http_execute(conn, req, stats);

	error_context_stack = errcallback.previous;

	if (req->status != 404)
		journal_write(req->method, req->path, done);
}

/* A write needs a read-write transaction (W6); checked before any request */
static void
check_read_write(const char *cmdname)
{
	if (XactReadOnly)
		PreventCommandIfReadOnly(cmdname);
}

/* ----------------------------------------------------------------
 *		Helpers
 * ----------------------------------------------------------------
 */

static const char *
cmd_name(CmdType operation)
{
	switch (operation)
	{
		case CMD_INSERT:
			return "INSERT";
		case CMD_UPDATE:
			return "UPDATE";
		case CMD_DELETE:
			return "DELETE";
		default:
			return "?";
	}
}

static const char *
cmd_path(const PgApiResourceDesc *res, CmdType operation)
{
	switch (operation)
	{
		case CMD_INSERT:
			return res->insert_path;
		case CMD_UPDATE:
			return res->update_path;
		case CMD_DELETE:
			return res->delete_path;
		default:
			return NULL;
	}
}

/*
 * The resource of a foreign table, after checking that it may be written
 * with this command: table option updatable, and the resource has the
 * operation.  ERROR with a hint otherwise; no request is made.
 */
static const PgApiResourceDesc *
writable_resource(Relation rel, CmdType operation, PgApiServerOptions *opts)
{
	Oid			relid = RelationGetRelid(rel);
	ForeignTable *table = GetForeignTable(relid);
	PgApiTableOptions topts;
	const PgApiResourceDesc *res;

	pgapi_get_server_options(table->serverid, opts);
	pgapi_get_table_options(relid, &topts);
	res = pgapi_lookup_resource(topts.resource, opts->api);
	if (!topts.updatable)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("foreign table \"%s\" is not updatable",
						RelationGetRelationName(rel)),
				 errhint("Enable writes with: ALTER FOREIGN TABLE %s OPTIONS (ADD updatable 'true').",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)))));
	if (cmd_path(res, operation) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s foreign table \"%s\"",
						operation == CMD_INSERT ? "insert into" :
						operation == CMD_UPDATE ? "update" : "delete from",
						RelationGetRelationName(rel)),
				 errdetail("The %s API offers no %s for resource %s.",
						   pgapi_api_name(opts->api), cmd_name(operation),
						   res->name)));
	return res;
}

/* The descriptor column of an attribute, or NULL ("field" option, dropped) */
static const PgApiColumnDesc *
attribute_column(const PgApiResourceDesc *res, Relation rel, int attidx)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attidx);

	if (att->attisdropped ||
		pgapi_get_column_field(RelationGetRelid(rel), att->attnum) != NULL)
		return NULL;
	return pgapi_find_column(res, NameStr(att->attname));
}

/* The attribute number of the column named like a descriptor column, or 0 */
static AttrNumber
column_attno(Relation rel, const PgApiColumnDesc *col)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (int a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);

		if (!att->attisdropped &&
			strcmp(NameStr(att->attname), col->name) == 0 &&
			pgapi_get_column_field(RelationGetRelid(rel), att->attnum) == NULL)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/*
 * Is column colidx part of the row identity?  The PGAPI_COL_ID column if
 * the resource has one; otherwise the path keys and the "$key" columns.
 */
static bool
is_identity_column(const PgApiResourceDesc *res, int colidx)
{
	const PgApiColumnDesc *col = &res->columns[colidx];
	bool		has_id = false;

	for (int i = 0; i < res->ncolumns; i++)
		if (res->columns[i].flags & PGAPI_COL_ID)
			has_id = true;
	if (has_id)
		return (col->flags & PGAPI_COL_ID) != 0;
	return (col->loc == PGAPI_LOC_PATH) ||
		(col->field != NULL && strcmp(col->field, "$key") == 0);
}

/* The columns an operation may set, for hints: "name, size, ha_type, tags" */
static char *
settable_columns(const PgApiResourceDesc *res, uint32 flag)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < res->ncolumns; i++)
		if (res->columns[i].flags & flag)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "",
							 res->columns[i].name);
	return buf.data;
}

static int
count_strings(const char *const *list)
{
	int			n = 0;

	while (list[n])
		n++;
	return n;
}

static bool
string_in(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static char *
join_strings(const char *const *list)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (; *list; list++)
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", *list);
	return buf.data;
}

/*
 * Check a value against the API's enum of the column (before any request).
 * 22023 naming column, table and the accepted values.
 */
static void
check_allowed(const PgApiColumnDesc *col, const char *value,
			  const char *relname)
{
	const char *closest;

	if (col->allowed == NULL || string_in(col->allowed, value))
		return;
	closest = pgapi_closest_match(value, col->allowed,
								  count_strings(col->allowed));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value \"%s\" for column \"%s\" of foreign table \"%s\"",
					value, col->name, relname),
			 errdetail("The API accepts: %s.", join_strings(col->allowed)),
			 closest ? errhint("Perhaps you meant \"%s\".", closest) : 0));
}

static char *
datum_text(Datum value, Oid typid)
{
	Oid			typoutput;
	bool		typisvarlena;

	getTypeOutputInfo(typid, &typoutput, &typisvarlena);
	return OidOutputFunctionCall(typoutput, value);
}

/* Add a SQL value to a request body: numbers, booleans, JSON, or a string */
static void
add_value(PgApiJsonBuilder *b, const char *key, Datum value, bool isnull,
		  Oid typid)
{
	if (isnull)
	{
		pgapi_jb_add_null(b, key);
		return;
	}
	switch (typid)
	{
		case INT2OID:
			pgapi_jb_add_int64(b, key, DatumGetInt16(value));
			break;
		case INT4OID:
			pgapi_jb_add_int64(b, key, DatumGetInt32(value));
			break;
		case INT8OID:
			pgapi_jb_add_int64(b, key, DatumGetInt64(value));
			break;
		case BOOLOID:
			pgapi_jb_add_bool(b, key, DatumGetBool(value));
			break;
		case JSONOID:
		case JSONBOID:
			pgapi_jb_add_json(b, key, datum_text(value, typid));
			break;
		default:
			pgapi_jb_add_string(b, key, datum_text(value, typid));
			break;
	}
}

static char *
column_field(const PgApiColumnDesc *col)
{
	return col->field ? pstrdup(col->field) : pgapi_default_field(col->name);
}

/* The organization id, discovered at the first write that needs it */
static const char *
organization(PgApiModifyState *mstate)
{
	if (mstate->organization_id == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(mstate));

		mstate->organization_id = pgapi_organization_id(&mstate->opts,
														mstate->user,
														mstate->conn,
														&mstate->stats);
		MemoryContextSwitchTo(oldcxt);
	}
	return mstate->organization_id;
}

/*
 * The "result" object of a write's response (B8); NULL for a response
 * without a body (204) or, when optional, without "result".
 */
static PgApiJsonValue
write_result(PgApiRequest *req, bool optional, const char *what)
{
	ErrorContextCallback errcallback;
	PgApiJsonDoc *doc;
	PgApiJsonValue result;

	if (req->data == NULL || req->data_len == 0)
		return NULL;

	errcallback.callback = write_error_callback;
	errcallback.arg = (void *) what;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	/* the envelope check scans use too (B8): an error under HTTP 200 */
	doc = pgapi_json_parse(req->data, req->data_len);
	result = pgapi_rest_result(req, doc, optional);
	if (result != NULL && pgapi_json_type(result) != PGAPI_JSON_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("unexpected response from the ClickHouse Cloud API"),
				 errdetail("The response has no \"result\" object; the change was probably applied."),
				 errcontext("remote request: %s %s",
							pgapi_method_name(req->method), req->path)));

	error_context_stack = errcallback.previous;
	return result;
}

static void
conversion_error_callback(void *arg)
{
	PgApiModifyState *mstate = (PgApiModifyState *) arg;

	if (mstate->cur_attnum > 0)
		errcontext("column \"%s\" of foreign table \"%s\"",
				   NameStr(TupleDescAttr(RelationGetDescr(mstate->rel),
										 mstate->cur_attnum - 1)->attname),
				   mstate->relname);
}

/*
 * Store in slot the row as the API returned it: each column the response
 * has replaces the value sent (RETURNING shows the API's truth, e.g. id,
 * state, password), the others keep slot's values.  keep_slot false: start
 * from NULLs.  The tuple is formed in the per-row context.
 */
static TupleTableSlot *
store_result(PgApiModifyState *mstate, TupleTableSlot *slot,
			 PgApiJsonValue result, bool keep_slot)
{
	TupleDesc	tupdesc = RelationGetDescr(mstate->rel);
	int			natts = tupdesc->natts;
	Datum	   *values = palloc0(sizeof(Datum) * natts);
	bool	   *isnull = palloc(sizeof(bool) * natts);
	ErrorContextCallback errcallback;
	HeapTuple	tuple;

	if (keep_slot)
	{
		slot_getallattrs(slot);
		memcpy(values, slot->tts_values, sizeof(Datum) * natts);
		memcpy(isnull, slot->tts_isnull, sizeof(bool) * natts);
	}
	else
		memset(isnull, true, sizeof(bool) * natts);

	errcallback.callback = conversion_error_callback;
	errcallback.arg = mstate;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	for (int a = 0; a < natts && result != NULL; a++)
	{
		PgApiJsonValue v;

		if (mstate->paths[a] == NULL)
			continue;
		v = pgapi_json_get_path(result, mstate->paths[a]);
		if (v == NULL)
			continue;			/* not in the response: keep what was sent */
		mstate->cur_attnum = a + 1;
		values[a] = pgapi_json_to_datum(v, &mstate->convs[a], &isnull[a]);
	}
	mstate->cur_attnum = 0;
	error_context_stack = errcallback.previous;

	tuple = heap_form_tuple(tupdesc, values, isnull);
	ExecForceStoreHeapTuple(tuple, slot, false);
	return slot;
}

/* The text of a row-identity column from the plan's junk attributes */
static char *
junk_text(PgApiModifyState *mstate, TupleTableSlot *planSlot, int colidx)
{
	const PgApiColumnDesc *col = &mstate->res->columns[colidx];
	AttrNumber	attno = mstate->junk_attno[colidx];
	bool		isnull;
	Datum		value;

	if (attno == InvalidAttrNumber)
		elog(ERROR, "row identity column \"%s\" not found", col->name);
	value = ExecGetJunkAttribute(planSlot, attno, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("column \"%s\" of foreign table \"%s\" is null in the row to change",
						col->name, mstate->relname)));
	return pgapi_format_value(value, TEXTOID, col->format, col->name,
							  mstate->relname);
}

static int
find_colidx(const PgApiResourceDesc *res, uint32 flag, const char *name)
{
	for (int i = 0; i < res->ncolumns; i++)
		if ((flag && (res->columns[i].flags & flag)) ||
			(name && strcmp(res->columns[i].name, name) == 0))
			return i;
	return -1;
}

/* ----------------------------------------------------------------
 *		Planning
 * ----------------------------------------------------------------
 */

/*
 * pgapiAddForeignUpdateTargets
 *		Add the row-identity columns as junk "pgapi_<column>" Vars.
 */
void
pgapiAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
							 RangeTblEntry *target_rte,
							 Relation target_relation)
{
	PgApiServerOptions opts;
	const PgApiResourceDesc *res;

	res = writable_resource(target_relation, root->parse->commandType, &opts);
	for (int i = 0; i < res->ncolumns; i++)
	{
		const PgApiColumnDesc *col = &res->columns[i];
		AttrNumber	attno;
		Form_pg_attribute att;
		Var		   *var;

		if (!is_identity_column(res, i))
			continue;
		attno = column_attno(target_relation, col);
		if (attno == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("foreign table \"%s\" needs column \"%s\" for %s",
							RelationGetRelationName(target_relation),
							col->name, cmd_name(root->parse->commandType)),
					 errdetail("Rows of resource %s are identified by this column.",
							   res->name)));
		att = TupleDescAttr(RelationGetDescr(target_relation), attno - 1);
		var = makeVar(rtindex, attno, att->atttypid, att->atttypmod,
					  att->attcollation, 0);
		add_row_identity_var(root, var, rtindex,
							 psprintf(PGAPI_JUNK_PREFIX "%s", col->name));
	}
}

/* "col = value" in baserestrictinfo with a Const value: its text */
static bool
const_qual(RelOptInfo *baserel, Index relid, AttrNumber attno,
		   bool *found, char **text)
{
	ListCell   *lc;

	*found = false;
	*text = NULL;
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst(lc);
		OpExpr	   *op = (OpExpr *) rinfo->clause;
		Node	   *left;
		Node	   *right;
		char	   *opname;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		opname = get_opname(op->opno);
		if (opname == NULL || strcmp(opname, "=") != 0)
			continue;
		left = strip_implicit_coercions(linitial(op->args));
		right = strip_implicit_coercions(lsecond(op->args));
		if (!(IsA(left, Var) && ((Var *) left)->varno == (int) relid &&
			  ((Var *) left)->varattno == attno))
		{
			Node	   *t = left;

			left = right;
			right = t;
		}
		if (!(IsA(left, Var) && ((Var *) left)->varno == (int) relid &&
			  ((Var *) left)->varattno == attno))
			continue;
		*found = true;
		if (IsA(right, Const) && !((Const *) right)->constisnull)
		{
			*text = datum_text(((Const *) right)->constvalue,
							   ((Const *) right)->consttype);
			return true;
		}
	}
	return false;
}

/*
 * UPDATE/DELETE must name their objects (W5): for a resource with an id
 * column, a pushed "id =" (DELETE) or "id =" / short constant "id IN"
 * (UPDATE); otherwise a pushed value for each required path key and a
 * condition on each "$key" column.  Checked at plan time: no request.
 */
static void
check_row_selection(PlannerInfo *root, Index resultRelation, Relation rel,
					const PgApiResourceDesc *res, CmdType operation)
{
	RelOptInfo *baserel = find_base_rel(root, resultRelation);
	PgApiRelInfo *info = (PgApiRelInfo *) baserel->fdw_private;
	int			id_colidx = find_colidx(res, PGAPI_COL_ID, NULL);
	const char *relname = RelationGetRelationName(rel);
	ListCell   *lc;

	for (int i = 0; i < res->ncolumns; i++)
	{
		const PgApiColumnDesc *col = &res->columns[i];
		PgApiKeyQual *qual = NULL;
		bool		ok = false;

		if (!is_identity_column(res, i))
			continue;

		if (col->loc == PGAPI_LOC_NONE)
		{
			/*
			 * The row's own "$key" column (a parameter's name): any "col =
			 * expression" condition will do.  Keys of enclosing levels (the
			 * section) need none.
			 */
			bool		found;
			char	   *text;

			if (col->level > 0)
				continue;

			const_qual(baserel, resultRelation, column_attno(rel, col),
					   &found, &text);
			if (found)
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s on foreign table \"%s\" requires a condition on column \"%s\"",
							cmd_name(operation), relname, col->name),
					 errhint("Add a condition such as: WHERE %s = '...'.",
							 col->name)));
		}

		if (info != NULL)
		{
			foreach(lc, info->key_quals)
			{
				PgApiKeyQual *q = lfirst(lc);

				if (q->colidx == i)
					qual = q;
			}
		}
		if (qual != NULL && !qual->is_list)
			ok = true;
		else if (qual != NULL && operation == CMD_UPDATE &&
				 IsA(qual->value, Const) && !((Const *) qual->value)->constisnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(((Const *) qual->value)->constvalue);

			ok = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) <= PGAPI_MAX_MODIFIED_ROWS;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s on foreign table \"%s\" requires a condition \"%s = value\"",
							cmd_name(operation), relname, col->name),
					 errdetail("%s without such a condition could change every %s the API key can reach.",
							   cmd_name(operation),
							   i == id_colidx ? "service" : "object"),
					 operation == CMD_UPDATE ?
					 errhint("Name the rows with WHERE %s = '...' or WHERE %s IN (...) with at most %d values.",
							 col->name, col->name, PGAPI_MAX_MODIFIED_ROWS) :
					 errhint("Name the row with WHERE %s = '...'.", col->name)));
	}
}

/*
 * The columns an UPDATE sets must be ones the API changes; otherwise ERROR
 * naming the column, before any request.
 */
static List *
check_updated_columns(PlannerInfo *root, Index resultRelation, Relation rel,
					  const PgApiResourceDesc *res)
{
	RelOptInfo *baserel = find_base_rel(root, resultRelation);
	Bitmapset  *cols = get_rel_all_updated_cols(root, baserel);
	List	   *attrs = NIL;
	int			col = -1;

	while ((col = bms_next_member(cols, col)) >= 0)
	{
		AttrNumber	attno = col + FirstLowInvalidHeapAttributeNumber;
		const PgApiColumnDesc *desc;
		Form_pg_attribute att;

		if (attno <= InvalidAttrNumber)
			continue;
		att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
		desc = attribute_column(res, rel, attno - 1);
		if (desc == NULL || !(desc->flags & PGAPI_COL_UPDATE))
		{
			bool		is_state = strcmp(NameStr(att->attname), "state") == 0 &&
				res->update_path && find_colidx(res, PGAPI_COL_ID, NULL) >= 0;

			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated",
							NameStr(att->attname), RelationGetRelationName(rel)),
					 is_state ?
					 errhint("Change the state of a service with pgapi_fdw_service_command(server, service_id, command), command being restart, promote or switchover.") :
					 errhint("The %s API can change only: %s.",
							 pgapi_api_name(res->api),
							 settable_columns(res, PGAPI_COL_UPDATE))));
		}
		attrs = lappend_int(attrs, attno);
	}
	return attrs;
}

/*
 * postgres_config: a constant name that the pgConfig schema does not have
 * is refused before any request, unless the condition section =
 * 'pgbouncer_config' says it is a PgBouncer parameter (any key).
 */
static void
check_config_name(PlannerInfo *root, Index resultRelation, Relation rel,
				  const PgApiResourceDesc *res)
{
	RelOptInfo *baserel = find_base_rel(root, resultRelation);
	int			name_idx = find_colidx(res, 0, "name");
	int			section_idx = find_colidx(res, 0, "section");
	const PgApiColumnDesc *name_col;
	const PgApiColumnDesc *section_col;
	bool		found;
	char	   *name;
	char	   *section = NULL;
	const char *closest;

	if (name_idx < 0 || res->columns[name_idx].allowed == NULL)
		return;
	name_col = &res->columns[name_idx];
	if (!const_qual(baserel, resultRelation, column_attno(rel, name_col),
					&found, &name) || string_in(name_col->allowed, name))
		return;
	if (section_idx >= 0)
	{
		section_col = &res->columns[section_idx];
		const_qual(baserel, resultRelation, column_attno(rel, section_col),
				   &found, &section);
		/* a section other than the first (pg_config) takes any key */
		if (section && section_col->value_map &&
			strcmp(section, section_col->value_map[1]) != 0)
			return;
	}
	closest = pgapi_closest_match(name, name_col->allowed,
								  count_strings(name_col->allowed));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the %s API cannot set Postgres parameter \"%s\"",
					pgapi_api_name(res->api), name),
			 errdetail("The Postgres parameters it sets are: %s.",
					   join_strings(name_col->allowed)),
			 closest ?
			 errhint("Perhaps you meant \"%s\".  For a PgBouncer parameter, add the condition section = 'pgbouncer_config'.",
					 closest) :
			 errhint("For a PgBouncer parameter, add the condition section = 'pgbouncer_config'.")));
}

/* EXPLAIN lines of a write: the read of the current state, the write */
static List *
modify_explain_lines(const PgApiResourceDesc *res,
					 const PgApiServerOptions *opts, CmdType operation)
{
	const char *path = cmd_path(res, operation);
	PgApiMethod method = operation == CMD_INSERT ? PGAPI_POST :
		operation == CMD_UPDATE ? PGAPI_PATCH : PGAPI_DELETE;
	List	   *lines = NIL;
	char	   *filled = pgapi_fill_path(path, NULL, res, opts->organization_id);

	/* a config write reads the whole configuration first */
	if (operation == CMD_UPDATE && find_colidx(res, PGAPI_COL_ID, NULL) < 0)
		lines = lappend(lines, makeString(psprintf("GET %s", filled)));
	/* a create looks for an object of the same name first (W9) */
	if (operation == CMD_INSERT && res->name_field != NULL)
		lines = lappend(lines,
						makeString(psprintf("GET %s",
											pgapi_fill_path(res->path, NULL, res,
															opts->organization_id))));
	lines = lappend(lines, makeString(psprintf("%s %s",
											   pgapi_method_name(method),
											   filled)));
	return lines;
}

/*
 * pgapiPlanForeignModify
 *		Every refusal that does not need a row happens here, before any
 *		request: table not updatable, operation not offered, columns the
 *		API cannot change, UPDATE/DELETE that do not name their objects.
 */
List *
pgapiPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
					   Index resultRelation, int subplan_index)
{
	CmdType		operation = plan->operation;
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel;
	PgApiServerOptions opts;
	const PgApiResourceDesc *res;
	List	   *target_attrs = NIL;
	List	   *lines;

	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT is not supported on pgapi_fdw foreign tables")));

	rel = table_open(rte->relid, NoLock);
	res = writable_resource(rel, operation, &opts);

	if (operation == CMD_UPDATE)
		target_attrs = check_updated_columns(root, resultRelation, rel, res);
	if (operation == CMD_UPDATE || operation == CMD_DELETE)
		check_row_selection(root, resultRelation, rel, res, operation);
	if (operation == CMD_UPDATE && find_colidx(res, PGAPI_COL_ID, NULL) < 0)
		check_config_name(root, resultRelation, rel, res);

	lines = modify_explain_lines(res, &opts, operation);
	table_close(rel, NoLock);

	return list_make3(makeString(pstrdup(res->name)), target_attrs, lines);
}

/* ----------------------------------------------------------------
 *		Execution
 * ----------------------------------------------------------------
 */

/*
 * pgapiBeginForeignModify
 *		Credentials of the checkAsUser role (C4, C5); nothing is read and
 *		nothing sent under EXPLAIN without ANALYZE (W3).
 */
void
pgapiBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index, int eflags)
{
	EState	   *estate = mtstate->ps.state;
	Relation	rel = rinfo->ri_RelationDesc;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	PgApiModifyState *mstate;
	RangeTblEntry *rte;
	Oid			userid;
	ForeignTable *table;
	PgApiTableOptions topts;
	int			natts = tupdesc->natts;

	mstate = palloc0(sizeof(PgApiModifyState));
	rinfo->ri_FdwState = mstate;
	mstate->rel = rel;
	mstate->relname = pstrdup(RelationGetRelationName(rel));
	mstate->operation = mtstate->operation;
	mstate->target_attrs = (List *) list_nth(fdw_private, FdwModifyPrivateTargetAttrs);
	mstate->explain_lines = (List *) list_nth(fdw_private, FdwModifyPrivateExplain);
	mstate->explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	if (mstate->explain_only)
		return;

	check_read_write(cmd_name(mstate->operation));

	rte = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	table = GetForeignTable(RelationGetRelid(rel));
	mstate->user = GetUserMapping(userid, table->serverid);
	pgapi_get_server_options(table->serverid, &mstate->opts);
	pgapi_get_table_options(RelationGetRelid(rel), &topts);
	mstate->res = pgapi_lookup_resource(topts.resource, mstate->opts.api);
	mstate->conn = pgapi_get_connection(mstate->user, &mstate->opts);

	mstate->attcol = palloc(sizeof(int) * natts);
	mstate->paths = palloc0(sizeof(PgApiJsonPath *) * natts);
	mstate->convs = palloc0(sizeof(PgApiColumnConv) * natts);
	for (int a = 0; a < natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);
		const PgApiColumnDesc *col = attribute_column(mstate->res, rel, a);
		char	   *field;

		mstate->attcol[a] = col ? col - mstate->res->columns : -1;
		if (att->attisdropped)
			continue;
		field = col ? column_field(col) :
			pgapi_get_column_field(RelationGetRelid(rel), att->attnum);
		if (field && field[0] != '$')
			mstate->paths[a] = pgapi_json_compile_path(field);
		pgapi_json_init_conv(&mstate->convs[a], att->atttypid, att->atttypmod);
	}

	mstate->junk_attno = palloc0(sizeof(AttrNumber) * mstate->res->ncolumns);
	if (mstate->operation == CMD_UPDATE || mstate->operation == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		for (int i = 0; i < mstate->res->ncolumns; i++)
			if (is_identity_column(mstate->res, i))
				mstate->junk_attno[i] =
					ExecFindJunkAttributeInTlist(subplan->targetlist,
												 psprintf(PGAPI_JUNK_PREFIX "%s",
														  mstate->res->columns[i].name));
	}

	mstate->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
											 "pgapi_fdw modify temporary data",
											 ALLOCSET_SMALL_SIZES);
}

/* A random (version 4) UUID naming one create request (N7) */
static char *
correlation_id(void)
{
	uint8		b[16];

	if (!pg_strong_random(b, sizeof(b)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random correlation tag")));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
					b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*
 * The tags of a create with the correlation tag appended (N7): the user's
 * tags (JSON text, or NULL for none) must be an array of objects.
 */
static char *
tags_with_correlation(PgApiModifyState *mstate, const char *colname,
					  const char *tags, const char *id)
{
	Datum		tag;
	Jsonb	   *user;
	Jsonb	   *all;

	tag = DirectFunctionCall1(jsonb_in,
							  CStringGetDatum(psprintf("[{\"key\": \"%s\", \"value\": \"%s\"}]",
													   PGAPI_CORRELATION_KEY, id)));
	if (tags == NULL)
		return DatumGetCString(DirectFunctionCall1(jsonb_out, tag));
	user = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(tags)));
	if (!JB_ROOT_IS_ARRAY(user) || JB_ROOT_IS_SCALAR(user))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for column \"%s\" of foreign table \"%s\"",
						colname, mstate->relname),
				 errdetail("The value must be a JSON array of {\"key\": ..., \"value\": ...} objects.")));
	all = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(user), tag));
	return JsonbToCString(NULL, &all->root, VARSIZE(all));
}

/*
 * Keep the names of created objects unique (W9).  The (server, name) pair
 * is locked until the end of the transaction, so concurrent INSERTs of one
 * name in this cluster run one after the other; then the current list is
 * read (never from the response cache).  An object of that name, perhaps
 * made by an earlier INSERT whose outcome was unknown, is an error before
 * anything is written.
 */
static void
check_new_name(PgApiModifyState *mstate, const char *name)
{
	const PgApiResourceDesc *res = mstate->res;
	PgApiRequest *req;
	PgApiJsonValue rows;
	int			nrows;

	DirectFunctionCall2(pg_advisory_xact_lock_int4,
						Int32GetDatum((int32) mstate->opts.serverid),
						Int32GetDatum((int32) hash_bytes((const unsigned char *) name,
														 strlen(name))));

	req = pgapi_request_new(mstate->temp_cxt, PGAPI_GET,
							pgapi_fill_path(res->path, NULL, res,
											organization(mstate)));
	req->no_cache = true;
	pgapi_http_execute(mstate->conn, req, &mstate->stats);
	/* the envelope check of every ClickHouse response (B8) */
	rows = pgapi_rest_result(req, pgapi_json_parse(req->data, req->data_len),
							 false);
	if (pgapi_json_type(rows) != PGAPI_JSON_ARRAY)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("unexpected response from the %s",
						pgapi_api_name(res->api)),
				 errdetail("The response has no \"result\" array."),
				 errcontext("remote request: GET %s", req->path)));

	nrows = pgapi_json_array_length(rows);
	for (int i = 0; i < nrows; i++)
	{
		PgApiJsonValue row = pgapi_json_array_get(rows, i);
		char	   *other = pgapi_json_scalar_text(pgapi_json_get(row, res->name_field));

		if (other != NULL && strcmp(other, name) == 0)
		{
			char	   *id = pgapi_json_scalar_text(pgapi_json_get(row, "id"));

			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("service \"%s\" already exists", name),
					 errdetail("Service \"%s\" has id %s.", name, id ? id : "(none)"),
					 errhint("Service names are kept unique, so that repeating an INSERT whose outcome was unknown cannot create a second service.")));
		}
	}
}

/*
 * pgapiExecForeignInsert
 *		One POST per row.  Every value is checked (settable column, API enum)
 *		before the request; RETURNING shows the created object (id, state,
 *		and the password, which the API returns only here: C16).
 */
TupleTableSlot *
pgapiExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
					   TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	PgApiModifyState *mstate = (PgApiModifyState *) rinfo->ri_FdwState;
	TupleDesc	tupdesc = RelationGetDescr(mstate->rel);
	MemoryContext oldcxt;
	PgApiJsonBuilder *body;
	PgApiRequest *req;
	char	   *name = NULL;
	char	   *what;
	char	   *path;
	PgApiJsonValue result;
	char	   *id;
	const PgApiResourceDesc *res = mstate->res;
	char	   *tags = NULL;
	const char *tags_column;
	char	   *correlation = NULL;

	MemoryContextReset(mstate->temp_cxt);
	oldcxt = MemoryContextSwitchTo(mstate->temp_cxt);

	tags_column = res->tag_field;
	slot_getallattrs(slot);
	body = pgapi_jb_object();
	for (int a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);
		const PgApiColumnDesc *col;

		if (att->attisdropped || slot->tts_isnull[a])
			continue;
		col = mstate->attcol[a] >= 0 ? &mstate->res->columns[mstate->attcol[a]] : NULL;
		if (col == NULL || !(col->flags & PGAPI_COL_INSERT))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be set by INSERT",
							NameStr(att->attname), mstate->relname),
					 errhint("The %s API sets only: %s.",
							 pgapi_api_name(res->api),
							 settable_columns(res, PGAPI_COL_INSERT))));
		if (col->allowed)
			check_allowed(col, datum_text(slot->tts_values[a], att->atttypid),
						  mstate->relname);
		if (res->name_field && strcmp(column_field(col), res->name_field) == 0)
			name = datum_text(slot->tts_values[a], att->atttypid);
		if (res->tag_field && strcmp(column_field(col), res->tag_field) == 0)
		{
			tags = datum_text(slot->tts_values[a], att->atttypid);
			tags_column = NameStr(att->attname);
			continue;
		}
		add_value(body, column_field(col), slot->tts_values[a], false,
				  att->atttypid);
	}
	if (res->tag_field)
	{
		correlation = correlation_id();
		pgapi_jb_add_json(body, res->tag_field,
						  tags_with_correlation(mstate, tags_column, tags,
												correlation));
	}

	check_read_write("INSERT");
	if (res->name_field && name != NULL)
		check_new_name(mstate, name);
	path = pgapi_fill_path(res->insert_path, NULL, res, organization(mstate));
	req = pgapi_request_new(mstate->temp_cxt, PGAPI_POST, path);
	req->body = pgapi_jb_finish(body, &req->body_len);
	if (correlation)
	{
		req->correlation = psprintf("%s = \"%s\"", PGAPI_CORRELATION_KEY,
									correlation);
		req->unknown_hint =
			psprintf("Look for a service tagged %s before repeating the INSERT, for example: SELECT id, state FROM %s WHERE %s @> '[{\"key\": \"%s\", \"value\": \"%s\"}]'.",
					 req->correlation,
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(mstate->rel)),
												RelationGetRelationName(mstate->rel)),
					 quote_identifier(tags_column), PGAPI_CORRELATION_KEY,
					 correlation);
	}
	what = name ? psprintf("creating service \"%s\"", name) :
		psprintf("inserting into foreign table \"%s\"", mstate->relname);

	execute_write(mstate->conn, req, &mstate->stats, what,
				  psprintf("Service \"%s\" was created.", name ? name : "?"));

	result = write_result(req, false, what);
	id = pgapi_json_scalar_text(pgapi_json_get(result, "id"));
	if (id != NULL)
	{
		/* name the new object in the ROLLBACK warning */
		PgApiWrite *w = llast(write_journal);
		MemoryContext cxt = MemoryContextSwitchTo(TopMemoryContext);

		pfree(w->what);
		w->what = psprintf("Service \"%s\" (id %s) was created.",
						   name ? name : "?", id);
		MemoryContextSwitchTo(cxt);
	}
	slot = store_result(mstate, slot, result, true);

	MemoryContextSwitchTo(oldcxt);
	return slot;
}

/*
 * A config UPDATE: read the configuration, then PATCH both sections with
 * the changed key and every other key at its current value (DESIGN.md
 * "Config writes").  404: the service is gone, no row.
 */
static TupleTableSlot *
update_config(PgApiModifyState *mstate, TupleTableSlot *slot,
			  TupleTableSlot *planSlot)
{
	const PgApiResourceDesc *res = mstate->res;
	TupleDesc	tupdesc = RelationGetDescr(mstate->rel);
	int			sid_idx = find_colidx(res, PGAPI_COL_REQUIRED, NULL);
	int			section_idx = find_colidx(res, 0, "section");
	int			name_idx = find_colidx(res, 0, "name");
	const char **values = palloc0(sizeof(char *) * res->ncolumns);
	char	   *service_id;
	char	   *section;
	char	   *name;
	const char *api_section = NULL;
	char	   *new_value = NULL;
	char	   *path;
	char	   *what;
	PgApiRequest *get;
	PgApiRequest *req;
	PgApiJsonValue current;
	PgApiJsonBuilder *body;
	bool		placed = false;

	service_id = junk_text(mstate, planSlot, sid_idx);
	section = junk_text(mstate, planSlot, section_idx);
	name = junk_text(mstate, planSlot, name_idx);
	values[sid_idx] = service_id;

	/* the API's name of the row's section ("pg_config" -> "pgConfig") */
	for (const char *const *m = res->columns[section_idx].value_map;
		 m && m[0] && m[1]; m += 2)
		if (strcmp(m[1], section) == 0)
			api_section = m[0];
	if (api_section == NULL)
		elog(ERROR, "unknown configuration section \"%s\"", section);

	slot_getallattrs(slot);
	for (ListCell *lc = list_head(mstate->target_attrs); lc;
		 lc = lnext(mstate->target_attrs, lc))
	{
		int			a = lfirst_int(lc) - 1;

		if (slot->tts_isnull[a])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("parameter \"%s\" cannot be set to null", name),
					 errhint("Set it to its default value instead.")));
		new_value = datum_text(slot->tts_values[a],
							   TupleDescAttr(tupdesc, a)->atttypid);
	}
	if (new_value == NULL)
		return slot;			/* nothing to change */

	check_read_write("UPDATE");
	what = psprintf("changing parameter \"%s\" of service \"%s\"", name,
					service_id);
	path = pgapi_fill_path(res->update_path, values, res, organization(mstate));

	/* the current configuration: a read, retried as reads are */
	get = pgapi_request_new(mstate->temp_cxt, PGAPI_GET, path);
	get->allow_404 = true;
	{
		ErrorContextCallback errcallback;

		errcallback.callback = write_error_callback;
		errcallback.arg = what;
		errcallback.previous = error_context_stack;
		error_context_stack = &errcallback;
		pgapi_http_execute(mstate->conn, get, &mstate->stats);
		error_context_stack = errcallback.previous;
	}
	if (get->status == 404)
		return NULL;
	current = write_result(get, false, what);

	body = pgapi_jb_object();
	for (int s = 0; s < pgapi_json_object_length(current); s++)
	{
		const char *skey;
		PgApiJsonValue sec = pgapi_json_object_entry(current, s, &skey);
		PgApiJsonBuilder *child;

		if (pgapi_json_type(sec) != PGAPI_JSON_OBJECT)
			continue;			/* e.g. "message" */
		child = pgapi_jb_object();
		for (int k = 0; k < pgapi_json_object_length(sec); k++)
		{
			const char *key;
			PgApiJsonValue v = pgapi_json_object_entry(sec, k, &key);

			if (strcmp(skey, api_section) == 0 && strcmp(key, name) == 0)
			{
				pgapi_jb_add_string(child, key, new_value);
				placed = true;
			}
			else
				pgapi_jb_add_json(child, key, pgapi_json_to_text(v));
		}
		if (strcmp(skey, api_section) == 0 && !placed)
		{
			pgapi_jb_add_string(child, name, new_value);
			placed = true;
		}
		pgapi_jb_add_builder(body, skey, child);
	}
	if (!placed)
	{
		PgApiJsonBuilder *child = pgapi_jb_object();

		pgapi_jb_add_string(child, name, new_value);
		pgapi_jb_add_builder(body, api_section, child);
	}

	req = pgapi_request_new(mstate->temp_cxt, PGAPI_PATCH, path);
	req->body = pgapi_jb_finish(body, &req->body_len);
	req->allow_404 = true;
	execute_write(mstate->conn, req, &mstate->stats, what,
				  psprintf("Parameter \"%s\" of service %s was set to \"%s\".",
						   name, service_id, new_value));
	if (req->status == 404)
		return NULL;
	(void) write_result(req, false, what);
	return slot;
}

/*
 * pgapiExecForeignUpdate
 *		Services: one PATCH with a merge patch of the SET columns (arrays
 *		such as tags are replaced whole, RFC 7396).  404: the object is gone,
 *		no row.
 */
TupleTableSlot *
pgapiExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					   TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	PgApiModifyState *mstate = (PgApiModifyState *) rinfo->ri_FdwState;
	const PgApiResourceDesc *res = mstate->res;
	TupleDesc	tupdesc = RelationGetDescr(mstate->rel);
	int			id_idx = find_colidx(res, PGAPI_COL_ID, NULL);
	MemoryContext oldcxt;
	PgApiJsonBuilder *body;
	PgApiRequest *req;
	const char **values;
	char	   *id;
	char	   *what;
	ListCell   *lc;
	TupleTableSlot *out;

	MemoryContextReset(mstate->temp_cxt);
	oldcxt = MemoryContextSwitchTo(mstate->temp_cxt);

	if (id_idx < 0)
	{
		out = update_config(mstate, slot, planSlot);
		MemoryContextSwitchTo(oldcxt);
		return out;
	}

	id = junk_text(mstate, planSlot, id_idx);
	slot_getallattrs(slot);
	body = pgapi_jb_object();
	foreach(lc, mstate->target_attrs)
	{
		int			a = lfirst_int(lc) - 1;
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);
		const PgApiColumnDesc *col = &res->columns[mstate->attcol[a]];

		if (!slot->tts_isnull[a] && col->allowed)
			check_allowed(col, datum_text(slot->tts_values[a], att->atttypid),
						  mstate->relname);
		add_value(body, column_field(col), slot->tts_values[a],
				  slot->tts_isnull[a], att->atttypid);
	}

	check_read_write("UPDATE");
	values = palloc0(sizeof(char *) * res->ncolumns);
	values[id_idx] = id;
	req = pgapi_request_new(mstate->temp_cxt, PGAPI_PATCH,
							pgapi_fill_path(res->update_path, values, res,
											organization(mstate)));
	req->body = pgapi_jb_finish(body, &req->body_len);
	req->allow_404 = true;
	what = psprintf("changing service %s", id);
	execute_write(mstate->conn, req, &mstate->stats, what,
				  psprintf("Service %s was changed: %s.", id, req->body));
	if (req->status == 404)
		out = NULL;
	else
		out = store_result(mstate, slot, write_result(req, false, what), true);

	MemoryContextSwitchTo(oldcxt);
	return out;
}

/*
 * pgapiExecForeignDelete
 *		One DELETE per row; a 404 (deleted meanwhile) is success with no row
 *		(W7, W9).  RETURNING shows the id only.
 */
TupleTableSlot *
pgapiExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
					   TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	PgApiModifyState *mstate = (PgApiModifyState *) rinfo->ri_FdwState;
	const PgApiResourceDesc *res = mstate->res;
	int			id_idx = find_colidx(res, PGAPI_COL_ID, NULL);
	MemoryContext oldcxt;
	PgApiRequest *req;
	const char **values;
	char	   *id;
	char	   *what;
	TupleTableSlot *out = NULL;

	MemoryContextReset(mstate->temp_cxt);
	oldcxt = MemoryContextSwitchTo(mstate->temp_cxt);

	id = junk_text(mstate, planSlot, id_idx);
	check_read_write("DELETE");
	values = palloc0(sizeof(char *) * res->ncolumns);
	values[id_idx] = id;
	req = pgapi_request_new(mstate->temp_cxt, PGAPI_DELETE,
							pgapi_fill_path(res->delete_path, values, res,
											organization(mstate)));
	req->allow_404 = true;
	what = psprintf("deleting service %s", id);
	execute_write(mstate->conn, req, &mstate->stats, what,
				  psprintf("Service %s was deleted.", id));
	if (req->status != 404)
	{
		TupleDesc	tupdesc = RelationGetDescr(mstate->rel);
		Datum	   *dvalues = palloc0(sizeof(Datum) * tupdesc->natts);
		bool	   *isnull = palloc(sizeof(bool) * tupdesc->natts);
		bool		idnull;

		(void) write_result(req, true, what);
		memset(isnull, true, sizeof(bool) * tupdesc->natts);
		for (int a = 0; a < tupdesc->natts; a++)
		{
			if (mstate->attcol[a] != id_idx)
				continue;
			dvalues[a] = ExecGetJunkAttribute(planSlot,
											  mstate->junk_attno[id_idx],
											  &idnull);
			isnull[a] = idnull;
		}
		ExecForceStoreHeapTuple(heap_form_tuple(tupdesc, dvalues, isnull),
								slot, false);
		out = slot;
	}

	MemoryContextSwitchTo(oldcxt);
	return out;
}

void
pgapiEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	/* everything lives in the query's memory */
}

/*
 * pgapiIsForeignRelUpdatable
 *		The operations of the resource, when the table option updatable is
 *		true; none otherwise.
 */
int
pgapiIsForeignRelUpdatable(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	PgApiTableOptions topts;
	PgApiServerOptions opts;
	const PgApiResourceDesc *res;

	pgapi_get_table_options(relid, &topts);
	if (!topts.updatable)
		return 0;
	pgapi_get_server_options(GetForeignTable(relid)->serverid, &opts);
	res = pgapi_lookup_resource(topts.resource, opts.api);
	return (res->insert_path ? (1 << CMD_INSERT) : 0) |
		(res->update_path ? (1 << CMD_UPDATE) : 0) |
		(res->delete_path ? (1 << CMD_DELETE) : 0);
}

void
pgapiExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index,
						  ExplainState *es)
{
	PgApiModifyState *mstate = (PgApiModifyState *) rinfo->ri_FdwState;
	ListCell   *lc;

	if (es->verbose)
		foreach(lc, (List *) list_nth(fdw_private, FdwModifyPrivateExplain))
			ExplainPropertyText("API Request", strVal(lfirst(lc)), es);

	if (es->analyze && mstate != NULL)
		ExplainPropertyInteger("API Write Requests", NULL,
							   mstate->stats.requests, es);
}

/* ----------------------------------------------------------------
 *		pgapi_fdw_service_command(server name, service_id text,
 *								  command text) RETURNS jsonb
 * ----------------------------------------------------------------
 */

static const char *const service_commands[] = {
	"restart", "promote", "switchover", NULL
};

/*
 * PATCH .../postgres/{id}/state {"command": ...}: the API's "result" as
 * jsonb.  A remote write like the others: refused in a read-only
 * transaction, never retried, journaled.
 */
Datum
pgapi_fdw_service_command(PG_FUNCTION_ARGS)
{
	char	   *servername = NameStr(*PG_GETARG_NAME(0));
	text	   *sid_text = PG_GETARG_TEXT_PP(1);
	char	   *command = text_to_cstring(PG_GETARG_TEXT_PP(2));
	ForeignServer *server;
	PgApiServerOptions opts;
	UserMapping *user;
	PgApiConnection *conn;
	PgApiStats	stats;
	char	   *service_id;
	char	   *org;
	char	   *path;
	char	   *what;
	PgApiRequest *req;
	PgApiJsonBuilder *body;
	PgApiJsonValue result;
	const char *closest;

	check_read_write("pgapi_fdw_service_command()");

	if (!string_in(service_commands, command))
	{
		closest = pgapi_closest_match(command, service_commands,
									  count_strings(service_commands));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid service command \"%s\"", command),
				 errdetail("The commands are: %s.", join_strings(service_commands)),
				 closest ? errhint("Perhaps you meant \"%s\".", closest) : 0));
	}

	server = GetForeignServerByName(servername, false);
	pgapi_get_server_options(server->serverid, &opts);
	if (opts.api != PGAPI_CLICKHOUSE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a ClickHouse Cloud server",
						servername)));
	service_id = pgapi_format_value(PointerGetDatum(sid_text), TEXTOID,
									PGAPI_FMT_ID, "service_id",
									"pgapi_fdw_service_command");

	memset(&stats, 0, sizeof(stats));
	user = GetUserMapping(GetUserId(), server->serverid);
	conn = pgapi_get_connection(user, &opts);
	org = pgapi_organization_id(&opts, user, conn, &stats);

	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "/v1/organizations/");
		pgapi_append_escaped(&buf, org);
		appendStringInfoString(&buf, "/postgres/");
		pgapi_append_escaped(&buf, service_id);
		appendStringInfoString(&buf, "/state");
		path = buf.data;
	}

	body = pgapi_jb_object();
	pgapi_jb_add_string(body, "command", command);
	req = pgapi_request_new(CurrentMemoryContext, PGAPI_PATCH, path);
	req->body = pgapi_jb_finish(body, &req->body_len);
	what = psprintf("running command \"%s\" on service %s", command, service_id);
	execute_write(conn, req, &stats, what,
				  psprintf("Command \"%s\" was run on service %s.", command,
						   service_id));
	result = write_result(req, false, what);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in,
										CStringGetDatum(pgapi_json_to_text(result))));
}

/*-------------------------------------------------------------------------
 *
 * pgapi_fdw.c
 *		  Foreign-data wrapper for the pganalyze and ClickHouse Cloud APIs:
 *		  the handler and the FDW callbacks.
 *
 * Policy lives here: which path to offer, what to push, what each node
 * carries from planning to execution.  Mechanics live in src/: option.c
 * (options), deparse.c (what can be sent and how), scan.c (requests,
 * pages, rows), http.c (libcurl), json.c (json-c), and the resource
 * descriptors (api_*.c).
 *
 * Credentials are never read at plan time nor stored in a plan
 * (RELIABILITY C4): they are looked up in BeginForeignScan for the
 * checkAsUser role.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  pgapi_fdw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "pgapi_fdw.h"

PG_MODULE_MAGIC;

/* Planner cost model: a request is expensive, a row is cheap. */
#define PGAPI_REQUEST_COST		100.0
#define PGAPI_ROW_COST			0.01
#define PGAPI_DISABLE_COST		1.0e10

/*
 * Indexes of the items of ForeignScan.fdw_private.  Must match the list
 * built in pgapiGetForeignPlan.
 */
enum PgApiScanPrivateIndex
{
	FdwScanPrivateResource,		/* String: resource name */
	FdwScanPrivateParams,		/* List of Integer pairs (column index,
								 * is_list), parallel to fdw_exprs */
	FdwScanPrivateSortBy,		/* String: API sort key, "" for none */
	FdwScanPrivateSortDesc,		/* Integer: 1 for descending */
	FdwScanPrivateLimit,		/* Integer: rows wanted, -1 for all */
	FdwScanPrivateAttrs,		/* Integer list: attnums the scan fills */
	FdwScanPrivateExplain		/* List of String: request lines */
};

/* Items of ForeignPath.fdw_private: sort column index, desc, limit. */
enum PgApiPathPrivateIndex
{
	FdwPathPrivateSortCol,
	FdwPathPrivateSortDesc,
	FdwPathPrivateLimit
};

/* Executor state of a foreign scan. */
typedef struct PgApiScanState
{
	PgApiScanSpec spec;
	PgApiServerOptions opts;
	UserMapping *user;
	List	   *param_desc;		/* FdwScanPrivateParams */
	List	   *param_exprs;	/* ExprState *, parallel to param_desc */
	List	   *explain_lines;
	MemoryContext scan_cxt;		/* reset at rescan */
	MemoryContext temp_cxt;		/* reset per row */
	PgApiScan  *scan;			/* NULL until the first row is asked for */
	PgApiStats	stats;
	bool		explain_only;
} PgApiScanState;

PG_FUNCTION_INFO_V1(pgapi_fdw_handler);

void		_PG_init(void);

/* ----------------------------------------------------------------
 *		Planning
 * ----------------------------------------------------------------
 */

/*
 * Build the relation's planner state: options, the attribute-to-column
 * map, and the split of baserestrictinfo into sent and local quals.
 */
static PgApiRelInfo *
make_rel_info(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	PgApiRelInfo *info = palloc0(sizeof(PgApiRelInfo));
	ForeignTable *table = GetForeignTable(foreigntableid);
	Relation	rel;
	TupleDesc	tupdesc;
	ListCell   *lc;
	Bitmapset  *pushed_cols = NULL;

	pgapi_get_server_options(table->serverid, &info->opts);
	pgapi_get_table_options(foreigntableid, &info->topts);
	info->res = pgapi_lookup_resource(info->topts.resource, info->opts.api);
	info->relname = get_rel_name(foreigntableid);

	rel = table_open(foreigntableid, NoLock);
	tupdesc = RelationGetDescr(rel);
	info->natts = tupdesc->natts;
	info->attcol = palloc(sizeof(int) * info->natts);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		const PgApiColumnDesc *col = NULL;

		info->attcol[i] = -1;
		if (att->attisdropped)
			continue;
		/* a "field" option maps the column to that field, whatever its name */
		if (pgapi_get_column_field(foreigntableid, att->attnum) == NULL)
		{
			col = pgapi_find_column(info->res, NameStr(att->attname));
			if (col == NULL)
				pgapi_check_foreign_table(foreigntableid);	/* reports it */
			info->attcol[i] = col - info->res->columns;
		}
	}
	table_close(rel, NoLock);

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc);
		PgApiKeyQual qual;

		if (!rinfo->pseudoconstant &&
			pgapi_match_key_qual(root, baserel, info, rinfo->clause, &qual) &&
			!bms_is_member(qual.colidx, pushed_cols))
		{
			PgApiKeyQual *q = palloc(sizeof(PgApiKeyQual));

			*q = qual;
			info->key_quals = lappend(info->key_quals, q);
			info->remote_conds = lappend(info->remote_conds, rinfo);
			pushed_cols = bms_add_member(pushed_cols, qual.colidx);
		}
		else
			info->local_conds = lappend(info->local_conds, rinfo);
	}

	/* columns the scan must fill: the target list and the local quals */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &info->attrs_used);
	foreach(lc, info->local_conds)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause,
					   baserel->relid, &info->attrs_used);

	return info;
}

/* Which column index does a key qual set, if any (-1). */
static PgApiKeyQual *
find_key_qual(List *key_quals, int colidx)
{
	ListCell   *lc;

	foreach(lc, key_quals)
	{
		PgApiKeyQual *q = lfirst(lc);

		if (q->colidx == colidx)
			return q;
	}
	return NULL;
}

/*
 * Estimated number of request streams: each IN list multiplies, a
 * fan-out costs a list request plus one per service.
 */
static double
estimate_requests(PgApiRelInfo *info, List *key_quals, bool *single_stream)
{
	double		n = 1;

	*single_stream = true;
	for (int i = 0; i < info->res->ncolumns; i++)
	{
		const PgApiColumnDesc *col = &info->res->columns[i];
		PgApiKeyQual *q = find_key_qual(key_quals, i);

		if (q && q->is_list)
		{
			n *= 3;
			*single_stream = false;
		}
		else if (!q && (col->flags & PGAPI_COL_FANOUT))
		{
			n *= 10;
			n += 1;
			*single_stream = false;
		}
	}
	return n;
}

/* Required columns (no fan-out) that no qual sets. */
static List *
missing_required(PgApiRelInfo *info, List *key_quals)
{
	List	   *missing = NIL;

	for (int i = 0; i < info->res->ncolumns; i++)
	{
		const PgApiColumnDesc *col = &info->res->columns[i];

		if ((col->flags & PGAPI_COL_REQUIRED) &&
			!(col->flags & PGAPI_COL_FANOUT) &&
			!find_key_qual(key_quals, i))
			missing = lappend_int(missing, i);
	}
	return missing;
}

static void
pgapiGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	PgApiRelInfo *info = make_rel_info(root, baserel, foreigntableid);
	bool		single;
	double		requests = estimate_requests(info, info->key_quals, &single);
	double		sel;

	baserel->fdw_private = info;
	info->rows_per_request = info->res->rows_estimate;
	sel = clauselist_selectivity(root, info->local_conds, baserel->relid,
								 JOIN_INNER, NULL);
	baserel->rows = clamp_row_est(info->res->rows_estimate * requests * sel);
}

/* Is the query a plain single-relation SELECT whose LIMIT bounds this scan? */
static int64
usable_limit(PlannerInfo *root, RelOptInfo *baserel, PgApiRelInfo *info,
			 bool sorted)
{
	Query	   *parse = root->parse;

	if (root->limit_tuples <= 0 || root->limit_tuples > (double) INT_MAX)
		return -1;
	if (parse->limitOption != LIMIT_OPTION_COUNT)
		return -1;
	if (bms_membership(root->all_baserels) != BMS_SINGLETON)
		return -1;
	if (parse->groupClause || parse->groupingSets || parse->hasAggs ||
		parse->hasWindowFuncs || parse->distinctClause || parse->havingQual ||
		parse->hasTargetSRFs || parse->rowMarks || parse->setOperations)
		return -1;
	/* every qual must have been sent, and the whole ORDER BY */
	if (info->local_conds != NIL)
		return -1;
	if (parse->sortClause != NIL && !sorted)
		return -1;
	return (int64) root->limit_tuples;
}

/*
 * If the query's ORDER BY is one column the API can sort by, return its
 * column index and direction.
 */
static int
pushable_sort(PlannerInfo *root, RelOptInfo *baserel, PgApiRelInfo *info,
			  bool *desc)
{
	PathKey    *pk;
	ListCell   *lc;

	if (list_length(root->query_pathkeys) != 1)
		return -1;
	pk = linitial(root->query_pathkeys);
	if (pk->pk_eclass->ec_has_volatile)
		return -1;
	/* API order puts no NULLs anywhere: accept PostgreSQL's default */
	if (pk->pk_nulls_first != (pk->pk_strategy == BTGreaterStrategyNumber))
		return -1;

	foreach(lc, pk->pk_eclass->ec_members)
	{
		EquivalenceMember *em = lfirst(lc);
		Var		   *var = (Var *) em->em_expr;
		int			colidx;
		Oid			opfamily;

		if (!IsA(var, Var) || (Index) var->varno != baserel->relid ||
			var->varattno <= 0 || var->varattno > info->natts)
			continue;
		colidx = info->attcol[var->varattno - 1];
		if (colidx < 0 || info->res->columns[colidx].sort_by == NULL)
			continue;
		/* the type's default btree ordering, as the API sorts numbers */
		opfamily = get_opclass_family(GetDefaultOpClass(var->vartype, BTREE_AM_OID));
		if (opfamily != pk->pk_opfamily)
			continue;
		*desc = (pk->pk_strategy == BTGreaterStrategyNumber);
		return colidx;
	}
	return -1;
}

static List *
path_private(int sortcol, bool desc, int64 limit)
{
	return list_make3(makeInteger(sortcol), makeInteger(desc ? 1 : 0),
					  makeInteger((int) Min(limit, (int64) INT_MAX)));
}

/* Callback for generate_implied_equalities_for_column. */
typedef struct ec_member_arg
{
	AttrNumber	attnum;
	Index		relid;
} ec_member_arg;

static bool
ec_member_matches_key(PlannerInfo *root, RelOptInfo *rel,
					  EquivalenceClass *ec, EquivalenceMember *em, void *arg)
{
	ec_member_arg *a = (ec_member_arg *) arg;
	Expr	   *expr = em->em_expr;

	while (expr && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	return IsA(expr, Var) && (Index) ((Var *) expr)->varno == a->relid &&
		((Var *) expr)->varattno == a->attnum;
}

/*
 * Parameterized paths: one per set of outer relations whose columns can
 * feed key columns (joins, LATERAL), as postgres_fdw builds them.  Priced
 * at one request per outer row, so a nested loop over a few outer rows
 * beats listing everything.
 */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel,
						PgApiRelInfo *info)
{
	List	   *ppi_list = NIL;
	ListCell   *lc;

	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc);
		PgApiKeyQual qual;
		Relids		required_outer;

		if (!join_clause_is_movable_to(rinfo, baserel))
			continue;
		if (!pgapi_match_key_qual(root, baserel, info, rinfo->clause, &qual))
			continue;
		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		ppi_list = list_append_unique_ptr(ppi_list,
										  get_baserel_parampathinfo(root, baserel,
																	required_outer));
	}

	if (baserel->has_eclass_joins)
	{
		for (int a = 0; a < info->natts; a++)
		{
			int			colidx = info->attcol[a];
			ec_member_arg arg;
			List	   *clauses;
			ListCell   *lc2;

			if (colidx < 0 || !(info->res->columns[colidx].flags & PGAPI_COL_KEY))
				continue;
			arg.attnum = a + 1;
			arg.relid = baserel->relid;
			clauses = generate_implied_equalities_for_column(root, baserel,
															 ec_member_matches_key,
															 &arg,
															 baserel->lateral_referencers);
			foreach(lc2, clauses)
			{
				RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc2);
				PgApiKeyQual qual;
				Relids		required_outer;

				if (!pgapi_match_key_qual(root, baserel, info, rinfo->clause, &qual))
					continue;
				required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
				required_outer = bms_del_member(required_outer, baserel->relid);
				if (bms_is_empty(required_outer))
					continue;
				ppi_list = list_append_unique_ptr(ppi_list,
												  get_baserel_parampathinfo(root, baserel,
																			required_outer));
			}
		}
	}

	foreach(lc, ppi_list)
	{
		ParamPathInfo *ppi = (ParamPathInfo *) lfirst(lc);
		List	   *quals = list_copy(info->key_quals);
		ListCell   *lc2;
		bool		single;
		double		requests;
		double		rows;
		Cost		total;

		foreach(lc2, ppi->ppi_clauses)
		{
			RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc2);
			PgApiKeyQual qual;

			if (pgapi_match_key_qual(root, baserel, info, rinfo->clause, &qual) &&
				!find_key_qual(quals, qual.colidx))
			{
				PgApiKeyQual *q = palloc(sizeof(PgApiKeyQual));

				*q = qual;
				quals = lappend(quals, q);
			}
		}
		requests = estimate_requests(info, quals, &single);
		rows = clamp_row_est(Min(ppi->ppi_rows, info->res->rows_estimate * requests));
		total = PGAPI_REQUEST_COST * requests + rows * PGAPI_ROW_COST;
		if (missing_required(info, quals) != NIL)
			total += PGAPI_DISABLE_COST;
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, rows,
										 PGAPI_REQUEST_COST, total, NIL,
										 ppi->ppi_req_outer, NULL,
										 path_private(-1, false, -1)));
	}
}

static void
pgapiGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					 Oid foreigntableid)
{
	PgApiRelInfo *info = (PgApiRelInfo *) baserel->fdw_private;
	bool		single;
	double		requests = estimate_requests(info, info->key_quals, &single);
	Cost		startup = PGAPI_REQUEST_COST;
	Cost		total = PGAPI_REQUEST_COST * requests + baserel->rows * PGAPI_ROW_COST;
	int			sortcol;
	bool		desc = false;

	/*
	 * Without its required key columns the plain scan cannot run; price it
	 * out so that a parameterized path wins, and let GetForeignPlan explain
	 * what is missing if nothing else is possible.
	 */
	if (missing_required(info, info->key_quals) != NIL)
		total += PGAPI_DISABLE_COST;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, total, NIL, NULL, NULL,
									 path_private(-1, false,
												  usable_limit(root, baserel, info, false))));

	/* ORDER BY a sortable column: the API sorts, when there is one stream */
	sortcol = pushable_sort(root, baserel, info, &desc);
	if (sortcol >= 0 && single)
	{
		int64		limit = usable_limit(root, baserel, info, true);
		double		rows = baserel->rows;

		if (limit >= 0)
			rows = Min(rows, (double) limit);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, baserel->rows,
										 startup,
										 PGAPI_REQUEST_COST * (limit >= 0 ? 1 : requests) +
										 rows * PGAPI_ROW_COST +
										 (missing_required(info, info->key_quals) ? PGAPI_DISABLE_COST : 0),
										 root->query_pathkeys, NULL, NULL,
										 path_private(sortcol, desc, limit)));
	}

	add_parameterized_paths(root, baserel, info);
}

/*
 * The field an attribute reads: its "field" option, else the descriptor's
 * field, else the camelCase of its name.
 */
static char *
attribute_field(PgApiRelInfo *info, Oid relid, int attidx)
{
	char	   *field = pgapi_get_column_field(relid, attidx + 1);
	const PgApiColumnDesc *col;

	if (field || info->attcol[attidx] < 0)
		return field;
	col = &info->res->columns[info->attcol[attidx]];
	return col->field ? pstrdup(col->field) : pgapi_default_field(col->name);
}

/* The WHERE clause that would satisfy the required key columns. */
static char *
example_where(PgApiRelInfo *info)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	for (int i = 0; i < info->res->ncolumns; i++)
	{
		const PgApiColumnDesc *col = &info->res->columns[i];

		if (!(col->flags & PGAPI_COL_REQUIRED))
			continue;
		appendStringInfo(&buf, "%s%s = %s", first ? "WHERE " : " AND ", col->name,
						 col->format == PGAPI_FMT_INT ? "1234" : "'...'");
		first = false;
	}
	return buf.data;
}

/* Describe the requests for EXPLAIN, one line per combination of constants. */
static List *
explain_lines(PgApiRelInfo *info, List *key_quals, const char *sort_by,
			  bool desc, int64 limit, const char *selection)
{
	const PgApiResourceDesc *res = info->res;
	List	  **known = palloc0(sizeof(List *) * res->ncolumns);
	bool	   *constrained = palloc0(sizeof(bool) * res->ncolumns);
	List	   *combos;
	List	   *lines = NIL;
	bool		fanout = false;
	ListCell   *lc;

	foreach(lc, key_quals)
	{
		PgApiKeyQual *q = lfirst(lc);
		const PgApiColumnDesc *col = &res->columns[q->colidx];
		Oid			typid = exprType((Node *) q->value);

		constrained[q->colidx] = true;
		if (!IsA(q->value, Const) || ((Const *) q->value)->constisnull)
			continue;
		if (!q->is_list)
			known[q->colidx] = list_make1(pgapi_format_value(((Const *) q->value)->constvalue,
															 typid, col->format, col->name,
															 info->relname));
		else
		{
			ArrayType  *arr = DatumGetArrayTypeP(((Const *) q->value)->constvalue);
			Oid			elemtype = ARR_ELEMTYPE(arr);
			int16		elmlen;
			bool		elmbyval;
			char		elmalign;
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
			deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign,
							  &elems, &nulls, &n);
			for (int i = 0; i < n; i++)
			{
				char	   *text;

				if (nulls[i])
					continue;
				text = pgapi_format_value(elems[i], elemtype, col->format,
										  col->name, info->relname);
				if (!list_member(known[q->colidx], makeString(text)))
					known[q->colidx] = lappend(known[q->colidx], makeString(text));
			}
			/* strings were wrapped to compare; unwrap */
			{
				List	   *plain = NIL;
				ListCell   *lc2;

				foreach(lc2, known[q->colidx])
					plain = lappend(plain, strVal(lfirst(lc2)));
				known[q->colidx] = plain;
			}
		}
	}

	for (int i = 0; i < res->ncolumns; i++)
		if (!constrained[i] && (res->columns[i].flags & PGAPI_COL_FANOUT))
			fanout = true;

	/* cross product of the known values */
	combos = list_make1(palloc0(sizeof(char *) * res->ncolumns));
	for (int i = 0; i < res->ncolumns; i++)
	{
		List	   *next = NIL;
		ListCell   *la;

		if (known[i] == NIL)
			continue;
		foreach(la, combos)
		{
			ListCell   *lv;

			foreach(lv, known[i])
			{
				char	  **b = palloc(sizeof(char *) * res->ncolumns);

				memcpy(b, lfirst(la), sizeof(char *) * res->ncolumns);
				b[i] = lfirst(lv);
				next = lappend(next, b);
			}
		}
		combos = next;
	}

	foreach(lc, combos)
	{
		List	   *l = pgapi_describe_requests(res, &info->opts,
												(const char *const *) lfirst(lc),
												constrained, sort_by, desc,
												limit, fanout, selection);

		ListCell   *ll;

		/* the fan-out listing is printed once */
		if (lines != NIL && fanout)
			l = list_delete_first(l);
		foreach(ll, l)
			lines = lappend(lines, makeString(lfirst(ll)));
	}
	return lines;
}

static ForeignScan *
pgapiGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					Oid foreigntableid, ForeignPath *best_path,
					List *tlist, List *scan_clauses, Plan *outer_plan)
{
	PgApiRelInfo *info = (PgApiRelInfo *) baserel->fdw_private;
	List	   *local_exprs = NIL;
	List	   *fdw_exprs = NIL;
	List	   *params = NIL;
	List	   *key_quals = NIL;
	List	   *attrs = NIL;
	List	   *missing;
	ListCell   *lc;
	int			sortcol = intVal(list_nth(best_path->fdw_private, FdwPathPrivateSortCol));
	bool		desc = intVal(list_nth(best_path->fdw_private, FdwPathPrivateSortDesc)) != 0;
	int64		limit = intVal(list_nth(best_path->fdw_private, FdwPathPrivateLimit));
	const char *sort_by = sortcol >= 0 ? info->res->columns[sortcol].sort_by : NULL;
	Bitmapset  *attrs_used = bms_copy(info->attrs_used);
	List	   *fdw_private;
	char	   *selection = NULL;

	/*
	 * Split the clauses again: the path's parameterized clauses join the
	 * base ones.  Each key column is sent once; the rest is checked locally.
	 */
	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		PgApiKeyQual qual;

		if (!rinfo->pseudoconstant &&
			pgapi_match_key_qual(root, baserel, info, rinfo->clause, &qual) &&
			!find_key_qual(key_quals, qual.colidx))
		{
			PgApiKeyQual *q = palloc(sizeof(PgApiKeyQual));

			*q = qual;
			key_quals = lappend(key_quals, q);
			fdw_exprs = lappend(fdw_exprs, qual.value);
			params = lappend(params, list_make2(makeInteger(qual.colidx),
												makeInteger(qual.is_list ? 1 : 0)));
		}
		else
		{
			local_exprs = lappend(local_exprs, rinfo->clause);
			pull_varattnos((Node *) rinfo->clause, baserel->relid, &attrs_used);
		}
	}

	missing = missing_required(info, key_quals);
	if (missing != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("foreign table \"%s\" needs a value for column \"%s\"",
						info->relname, info->res->columns[linitial_int(missing)].name),
				 errdetail("The %s API cannot list %s without %s.",
						   pgapi_api_name(info->opts.api), info->res->name,
						   list_length(missing) > 1 ? "these columns" : "this column"),
				 errhint("Add a condition such as: %s, or join the table on these columns.",
						 example_where(info))));

	/* the attributes the executor fills */
	for (int a = 1; a <= info->natts; a++)
		if (bms_is_member(a - FirstLowInvalidHeapAttributeNumber, attrs_used) ||
			bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used))
			attrs = lappend_int(attrs, a);

	/* GraphQL: the selection set those attributes need, for EXPLAIN */
	if (info->res->gql_field)
	{
		char	  **attfield = palloc0(sizeof(char *) * info->natts);
		bool	   *needed = palloc0(sizeof(bool) * info->natts);

		foreach(lc, attrs)
		{
			int			a = lfirst_int(lc) - 1;

			needed[a] = true;
			attfield[a] = attribute_field(info, foreigntableid, a);
		}
		selection = pgapi_scan_selection(info->res, info->natts, info->attcol,
										 attfield, needed);
	}

	fdw_private = list_make5(makeString(pstrdup(info->res->name)),
							 params,
							 makeString(pstrdup(sort_by ? sort_by : "")),
							 makeInteger(desc ? 1 : 0),
							 makeInteger((int) limit));
	fdw_private = lappend(fdw_private, attrs);
	fdw_private = lappend(fdw_private,
						  explain_lines(info, key_quals, sort_by, desc, limit,
										selection));

	return make_foreignscan(tlist, local_exprs, baserel->relid, fdw_exprs,
							fdw_private, NIL, NIL, outer_plan);
}

/* ----------------------------------------------------------------
 *		Execution
 * ----------------------------------------------------------------
 */

static void
pgapiBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	PgApiScanState *fsstate;
	Relation	rel = node->ss.ss_currentRelation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	RangeTblEntry *rte;
	Oid			userid;
	ForeignTable *table;
	PgApiTableOptions topts;
	List	   *attrs;
	ListCell   *lc;
	int			natts = tupdesc->natts;
	PgApiScanSpec *spec;

	fsstate = palloc0(sizeof(PgApiScanState));
	node->fdw_state = fsstate;
	spec = &fsstate->spec;
	fsstate->explain_lines = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateExplain);
	fsstate->explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;

	/* plain EXPLAIN makes no request and reads no secret (W3, C4) */
	if (fsstate->explain_only)
		return;

	/* run as the view owner or the current user (C5) */
	rte = exec_rt_fetch(fsplan->scan.scanrelid, estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	table = GetForeignTable(RelationGetRelid(rel));
	fsstate->user = GetUserMapping(userid, table->serverid);

	pgapi_get_server_options(table->serverid, &fsstate->opts);
	pgapi_get_table_options(RelationGetRelid(rel), &topts);
	spec->res = pgapi_lookup_resource(topts.resource, fsstate->opts.api);
	spec->opts = &fsstate->opts;
	spec->relname = pstrdup(RelationGetRelationName(rel));
	spec->tupdesc = tupdesc;

	spec->attcol = palloc(sizeof(int) * natts);
	spec->attfield = palloc0(sizeof(char *) * natts);
	spec->attneeded = palloc0(sizeof(bool) * natts);
	for (int a = 0; a < natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);
		char	   *field;
		const PgApiColumnDesc *col;

		spec->attcol[a] = -1;
		if (att->attisdropped)
			continue;
		field = pgapi_get_column_field(RelationGetRelid(rel), att->attnum);
		col = field ? NULL : pgapi_find_column(spec->res, NameStr(att->attname));
		if (col)
		{
			spec->attcol[a] = col - spec->res->columns;
			field = col->field ? pstrdup(col->field) :
				pgapi_default_field(col->name);
		}
		spec->attfield[a] = field;
	}
	attrs = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateAttrs);
	foreach(lc, attrs)
		spec->attneeded[lfirst_int(lc) - 1] = true;

	{
		char	   *sort_by = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateSortBy));

		spec->sort_by = sort_by[0] ? sort_by : NULL;
	}
	spec->sort_desc = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateSortDesc)) != 0;
	spec->limit = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateLimit));

	fsstate->param_desc = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateParams);
	fsstate->param_exprs = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);

	fsstate->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
											  "pgapi_fdw scan",
											  ALLOCSET_DEFAULT_SIZES);
	fsstate->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
											  "pgapi_fdw temporary data",
											  ALLOCSET_SMALL_SIZES);
}

/*
 * Evaluate the parameter expressions (constants, $n, outer rows, stable
 * expressions) into request values, deduplicated: "IN ('a', 'a')" makes
 * one request, not two.
 */
static void
evaluate_params(ForeignScanState *node, PgApiScanState *fsstate)
{
	PgApiScanSpec *spec = &fsstate->spec;
	const PgApiResourceDesc *res = spec->res;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	ListCell   *ld;
	ListCell   *le;

	spec->params = palloc0(sizeof(List *) * res->ncolumns);
	spec->constrained = palloc0(sizeof(bool) * res->ncolumns);

	forboth(ld, fsstate->param_desc, le, fsstate->param_exprs)
	{
		List	   *desc = (List *) lfirst(ld);
		int			colidx = intVal(linitial(desc));
		bool		is_list = intVal(lsecond(desc)) != 0;
		ExprState  *expr = (ExprState *) lfirst(le);
		const PgApiColumnDesc *col = &res->columns[colidx];
		Oid			typid = exprType((Node *) expr->expr);
		bool		isnull;
		Datum		value;
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		Oid			elemtype = typid;

		value = ExecEvalExpr(expr, econtext, &isnull);
		spec->constrained[colidx] = true;
		if (isnull)
			continue;			/* "= NULL" matches nothing */

		if (is_list)
		{
			ArrayType  *arr = DatumGetArrayTypeP(value);
			int16		elmlen;
			bool		elmbyval;
			char		elmalign;

			elemtype = ARR_ELEMTYPE(arr);
			get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
			deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign,
							  &elems, &nulls, &n);
		}
		else
		{
			int16		typlen;
			bool		typbyval;

			get_typlenbyval(typid, &typlen, &typbyval);
			elems = palloc(sizeof(Datum));
			nulls = palloc0(sizeof(bool));
			elems[0] = datumCopy(value, typbyval, typlen);
			n = 1;
		}

		for (int i = 0; i < n; i++)
		{
			PgApiParamValue *v;
			ListCell   *lv;
			bool		dup = false;
			char	   *text;

			if (nulls[i])
				continue;
			text = pgapi_format_value(elems[i], elemtype, col->format,
									  col->name, spec->relname);
			foreach(lv, spec->params[colidx])
				if (strcmp(((PgApiParamValue *) lfirst(lv))->text, text) == 0)
					dup = true;
			if (dup)
				continue;
			v = palloc(sizeof(PgApiParamValue));
			v->datum = elems[i];
			v->text = text;
			if (col->format == PGAPI_FMT_RFC3339 || col->format == PGAPI_FMT_UNIX)
				v->datum = TimestampTzGetDatum(pgapi_truncate_ms(DatumGetTimestampTz(v->datum)));
			spec->params[colidx] = lappend(spec->params[colidx], v);
		}
	}
}

static TupleTableSlot *
pgapiIterateForeignScan(ForeignScanState *node)
{
	PgApiScanState *fsstate = (PgApiScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext oldcxt;
	bool		found;

	if (fsstate->scan == NULL)
	{
		oldcxt = MemoryContextSwitchTo(fsstate->scan_cxt);
		evaluate_params(node, fsstate);
		fsstate->scan = pgapi_scan_begin(&fsstate->spec, fsstate->user,
										 &fsstate->stats);
		MemoryContextSwitchTo(oldcxt);
	}

	ExecClearTuple(slot);
	MemoryContextReset(fsstate->temp_cxt);
	oldcxt = MemoryContextSwitchTo(fsstate->temp_cxt);
	found = pgapi_scan_next(fsstate->scan, slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(oldcxt);

	if (found)
		ExecStoreVirtualTuple(slot);
	return slot;
}

static void
pgapiReScanForeignScan(ForeignScanState *node)
{
	PgApiScanState *fsstate = (PgApiScanState *) node->fdw_state;

	if (fsstate->scan)
		pgapi_scan_end(fsstate->scan);
	fsstate->scan = NULL;
	MemoryContextReset(fsstate->scan_cxt);
}

static void
pgapiEndForeignScan(ForeignScanState *node)
{
	PgApiScanState *fsstate = (PgApiScanState *) node->fdw_state;

	if (fsstate && fsstate->scan)
		pgapi_scan_end(fsstate->scan);
}

static void
pgapiExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	PgApiScanState *fsstate = (PgApiScanState *) node->fdw_state;
	ListCell   *lc;

	if (es->verbose)
	{
		foreach(lc, fsstate->explain_lines)
			ExplainPropertyText("API Request", strVal(lfirst(lc)), es);
	}

	if (es->analyze)
	{
		PgApiStats *st = &fsstate->stats;

		if (es->format == EXPLAIN_FORMAT_TEXT)
			ExplainPropertyText("API Requests",
								psprintf(INT64_FORMAT "  Pages: " INT64_FORMAT
										 "  Retries: " INT64_FORMAT
										 "  Bytes: " INT64_FORMAT
										 "  Cache Hits: " INT64_FORMAT,
										 st->requests, st->pages, st->retries,
										 st->bytes, st->cache_hits),
								es);
		else
		{
			ExplainPropertyInteger("API Requests", NULL, st->requests, es);
			ExplainPropertyInteger("Pages", NULL, st->pages, es);
			ExplainPropertyInteger("Retries", NULL, st->retries, es);
			ExplainPropertyInteger("Bytes", NULL, st->bytes, es);
			ExplainPropertyInteger("Cache Hits", NULL, st->cache_hits, es);
		}
	}
}

/* ----------------------------------------------------------------
 *		Handler and module initialization
 * ----------------------------------------------------------------
 */

Datum
pgapi_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = pgapiGetForeignRelSize;
	routine->GetForeignPaths = pgapiGetForeignPaths;
	routine->GetForeignPlan = pgapiGetForeignPlan;
	routine->BeginForeignScan = pgapiBeginForeignScan;
	routine->IterateForeignScan = pgapiIterateForeignScan;
	routine->ReScanForeignScan = pgapiReScanForeignScan;
	routine->EndForeignScan = pgapiEndForeignScan;
	routine->ExplainForeignScan = pgapiExplainForeignScan;

	/* writes: modify.c (no batch insert: RELIABILITY W8) */
	routine->AddForeignUpdateTargets = pgapiAddForeignUpdateTargets;
	routine->PlanForeignModify = pgapiPlanForeignModify;
	routine->BeginForeignModify = pgapiBeginForeignModify;
	routine->ExecForeignInsert = pgapiExecForeignInsert;
	routine->ExecForeignUpdate = pgapiExecForeignUpdate;
	routine->ExecForeignDelete = pgapiExecForeignDelete;
	routine->EndForeignModify = pgapiEndForeignModify;
	routine->IsForeignRelUpdatable = pgapiIsForeignRelUpdatable;
	routine->ExplainForeignModify = pgapiExplainForeignModify;

	PG_RETURN_POINTER(routine);
}

void
_PG_init(void)
{
	pgapi_http_init();
	pgapi_modify_init();
}

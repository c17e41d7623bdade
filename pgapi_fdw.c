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
#include <math.h>

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
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
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
 * Items of a "part" of ForeignScan.fdw_private: what the executor needs to
 * read one relation.  A base scan has one part; a join has two, the driving
 * relation first.  Must match make_part().
 */
enum PgApiPartIndex
{
	PartResource,				/* String: resource name */
	PartParams,					/* List of Integer pairs (column index,
								 * is_list), parallel to the part's slice of
								 * fdw_exprs */
	PartSortBy,					/* String: API sort key, "" for none */
	PartSortDesc,				/* Integer: 1 for descending */
	PartLimit,					/* Integer: rows wanted, -1 for all */
	PartAttrs,					/* Integer list: attnums the scan fills */
	PartExplain,				/* List of String: request lines */
	PartRelid					/* Integer: range table index */
};

/*
 * Items of ForeignScan.fdw_private.  Must match pgapiGetForeignPlan.
 * fdw_exprs holds each part's parameter expressions in part order, then (a
 * join only) the driving relation's local quals.
 */
enum PgApiScanPrivateIndex
{
	FdwScanPrivateParts,		/* List of parts */
	FdwScanPrivateJoinKeys,		/* join: List of Integer pairs (dependent
								 * column index, driving attnum) */
	FdwScanPrivateTlistMap,		/* join: per fdw_scan_tlist entry, Integer
								 * pair (part, attnum) */
	FdwScanPrivateNQuals		/* join: Integer, driving quals in fdw_exprs */
};

/* Items of ForeignPath.fdw_private: sort column index, desc, limit. */
enum PgApiPathPrivateIndex
{
	FdwPathPrivateSortCol,
	FdwPathPrivateSortDesc,
	FdwPathPrivateLimit
};

/* A key pair of a batched join: dependent column = driving column. */
typedef struct PgApiJoinKey
{
	int			colidx;			/* the dependent resource's key column */
	AttrNumber	driver_attno;	/* the driving relation's column */
} PgApiJoinKey;

/* Planner state of a batched join (joinrel->fdw_private). */
typedef struct PgApiJoinInfo
{
	RelOptInfo *driver;			/* read first */
	RelOptInfo *dependent;		/* asked for the driver's keys */
	List	   *keys;			/* PgApiJoinKey * */
	List	   *joinclauses;	/* RestrictInfo *, all rechecked */
} PgApiJoinInfo;

/* One relation a foreign scan reads: its spec and parameters. */
typedef struct PgApiSide
{
	PgApiScanSpec spec;
	PgApiServerOptions opts;
	Index		rti;
	List	   *param_desc;		/* PartParams */
	List	   *param_exprs;	/* ExprState *, parallel to param_desc */
	List	   *explain_lines;
	PgApiScan  *scan;			/* NULL until started */
	Datum	   *values;			/* current row */
	bool	   *isnull;
} PgApiSide;

/* A row of a join's driving relation, kept until the join is done. */
typedef struct PgApiDriverRow
{
	Datum	   *values;
	bool	   *isnull;
	char	   *key;			/* join key values as sent, \x1f-separated */
} PgApiDriverRow;

/* Executor state of a foreign scan (a base relation or a join). */
typedef struct PgApiScanState
{
	PgApiSide	sides[2];		/* [0] the relation, or a join's driving one */
	int			nsides;
	UserMapping *user;
	MemoryContext scan_cxt;		/* reset at rescan */
	MemoryContext temp_cxt;		/* reset per row */
	MemoryContext dep_cxt;		/* a join's dependent row, while it is
								 * joined: reset when the next is read */
	PgApiStats	stats;
	bool		explain_only;
	bool		started;

	/* joins */
	List	   *join_keys;		/* (dependent column index, driving attnum) */
	int		   *tl_part;		/* per fdw_scan_tlist entry */
	int		   *tl_attno;
	int			ntl;
	ExprState  *driver_qual;	/* the driving relation's local quals */
	PgApiDriverRow *drivers;
	int			ndrivers;
	int			next_driver;	/* for the dependent row being joined */
	char	   *dep_key;		/* that row's key */
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
 * If rinfo feeds a key column from other relations, add the parameterization
 * it needs to ppi_list.
 */
static List *
add_clause_ppi(PlannerInfo *root, RelOptInfo *baserel, PgApiRelInfo *info,
			   RestrictInfo *rinfo, List *ppi_list)
{
	PgApiKeyQual qual;
	Relids		required_outer;

	if (!pgapi_match_key_qual(root, baserel, info, rinfo->clause, &qual))
		return ppi_list;
	required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
	required_outer = bms_del_member(required_outer, baserel->relid);
	if (bms_is_empty(required_outer))
		return ppi_list;
	return list_append_unique_ptr(ppi_list,
								  get_baserel_parampathinfo(root, baserel,
															required_outer));
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

		if (join_clause_is_movable_to(rinfo, baserel))
			ppi_list = add_clause_ppi(root, baserel, info, rinfo, ppi_list);
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
				ppi_list = add_clause_ppi(root, baserel, info,
										  (RestrictInfo *) lfirst(lc2), ppi_list);
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

	/*
	 * ORDER BY a sortable column: the API sorts.  With one request stream
	 * its order is the query's.  With several (IN lists, fan-out over
	 * services) each stream is asked for its first LIMIT rows in that
	 * order, and a local Sort and Limit pick the answer from their union,
	 * which holds the overall first LIMIT rows.
	 */
	sortcol = pushable_sort(root, baserel, info, &desc);
	if (sortcol >= 0 && !single)
	{
		int64		limit = usable_limit(root, baserel, info, true);

		if (limit >= 0)
		{
			double		rows = Min(baserel->rows, (double) limit * requests);

			add_path(baserel, (Path *)
					 create_foreignscan_path(root, baserel, NULL, rows,
											 startup,
											 PGAPI_REQUEST_COST * requests +
											 rows * PGAPI_ROW_COST +
											 (missing_required(info, info->key_quals) ? PGAPI_DISABLE_COST : 0),
											 NIL, NULL, NULL,
											 path_private(sortcol, desc, limit)));
		}
	}
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
explain_lines(PgApiRelInfo *info, List *key_quals, const Bitmapset *join_cols,
			  const char *sort_by, bool desc, int64 limit,
			  const char *selection)
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
		if (bms_is_member(i, join_cols))
			constrained[i] = true;
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

/*
 * Build one part of a plan's fdw_private: split the relation's clauses
 * into parameters sent to the API (their value expressions appended to
 * *fdw_exprs) and local quals (appended to *local_exprs), and describe the
 * requests for EXPLAIN.  join_cols marks the columns a join supplies.
 */
static List *
make_part(PlannerInfo *root, RelOptInfo *rel, PgApiRelInfo *info, Oid relid,
		  List *clauses, int sortcol, bool desc, int64 limit,
		  Bitmapset *attrs_used, const Bitmapset *join_cols,
		  List **fdw_exprs, List **local_exprs)
{
	List	   *params = NIL;
	List	   *key_quals = NIL;
	List	   *attrs = NIL;
	List	   *missing;
	ListCell   *lc;
	const char *sort_by = sortcol >= 0 ? info->res->columns[sortcol].sort_by : NULL;
	char	   *selection = NULL;
	List	   *part;

	/* each key column is sent once; the rest is checked locally */
	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		PgApiKeyQual qual;

		if (!rinfo->pseudoconstant &&
			pgapi_match_key_qual(root, rel, info, rinfo->clause, &qual) &&
			!find_key_qual(key_quals, qual.colidx) &&
			!bms_is_member(qual.colidx, join_cols))
		{
			PgApiKeyQual *q = palloc(sizeof(PgApiKeyQual));

			*q = qual;
			key_quals = lappend(key_quals, q);
			*fdw_exprs = lappend(*fdw_exprs, qual.value);
			params = lappend(params, list_make2(makeInteger(qual.colidx),
												makeInteger(qual.is_list ? 1 : 0)));
		}
		else
		{
			*local_exprs = lappend(*local_exprs, rinfo->clause);
			pull_varattnos((Node *) rinfo->clause, rel->relid, &attrs_used);
		}
	}

	missing = missing_required(info, key_quals);
	foreach(lc, missing)
	{
		if (bms_is_member(lfirst_int(lc), join_cols))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("foreign table \"%s\" needs a value for column \"%s\"",
						info->relname, info->res->columns[lfirst_int(lc)].name),
				 errdetail("The %s API cannot list %s without %s.",
						   pgapi_api_name(info->opts.api), info->res->name,
						   list_length(missing) > 1 ? "these columns" : "this column"),
				 errhint("Add a condition such as: %s, or join the table on these columns.",
						 example_where(info))));
	}

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
			attfield[a] = attribute_field(info, relid, a);
		}
		selection = pgapi_scan_selection(info->res, info->natts, info->attcol,
										 attfield, needed);
	}

	part = list_make5(makeString(pstrdup(info->res->name)),
					  params,
					  makeString(pstrdup(sort_by ? sort_by : "")),
					  makeInteger(desc ? 1 : 0),
					  makeInteger((int) limit));
	part = lappend(part, attrs);
	part = lappend(part, explain_lines(info, key_quals, join_cols, sort_by,
									   desc, limit, selection));
	part = lappend(part, makeInteger(rel->relid));
	return part;
}

/*
 * The plan of a batched join (see pgapiGetForeignJoinPaths): the driving
 * relation's part, the dependent one's, the key pairs, and a scan tuple
 * (fdw_scan_tlist) holding every column the join's output and quals use.
 */
static ForeignScan *
plan_join(PlannerInfo *root, RelOptInfo *joinrel, List *tlist,
		  Plan *outer_plan)
{
	PgApiJoinInfo *jinfo = (PgApiJoinInfo *) joinrel->fdw_private;
	RelOptInfo *drel = jinfo->driver;
	RelOptInfo *prel = jinfo->dependent;
	PgApiRelInfo *dinfo = (PgApiRelInfo *) drel->fdw_private;
	PgApiRelInfo *pinfo = (PgApiRelInfo *) prel->fdw_private;
	List	   *fdw_exprs = NIL;
	List	   *driver_quals = NIL;
	List	   *local_exprs = NIL;
	List	   *scan_tlist;
	List	   *parts;
	List	   *keys = NIL;
	List	   *tlmap = NIL;
	Bitmapset  *dattrs = NULL;
	Bitmapset  *pattrs = NULL;
	Bitmapset  *join_cols = NULL;
	ListCell   *lc;

	/* every column of either relation that the join needs, once */
	scan_tlist = add_to_flat_tlist(NIL,
								   pull_var_clause((Node *) joinrel->reltarget->exprs,
												   PVC_RECURSE_PLACEHOLDERS));
	scan_tlist = add_to_flat_tlist(scan_tlist,
								   pull_var_clause((Node *) extract_actual_clauses(jinfo->joinclauses, false),
												   PVC_RECURSE_PLACEHOLDERS));
	foreach(lc, drel->baserestrictinfo)
		scan_tlist = add_to_flat_tlist(scan_tlist,
									   pull_var_clause((Node *) ((RestrictInfo *) lfirst(lc))->clause,
													   PVC_RECURSE_PLACEHOLDERS));
	foreach(lc, prel->baserestrictinfo)
		scan_tlist = add_to_flat_tlist(scan_tlist,
									   pull_var_clause((Node *) ((RestrictInfo *) lfirst(lc))->clause,
													   PVC_RECURSE_PLACEHOLDERS));
	foreach(lc, jinfo->keys)
	{
		PgApiJoinKey *k = lfirst(lc);

		join_cols = bms_add_member(join_cols, k->colidx);
		keys = lappend(keys, list_make2(makeInteger(k->colidx),
										makeInteger(k->driver_attno)));
	}

	foreach(lc, scan_tlist)
	{
		Var		   *var = (Var *) ((TargetEntry *) lfirst(lc))->expr;
		bool		driving = (Index) var->varno == drel->relid;

		tlmap = lappend(tlmap, list_make2(makeInteger(driving ? 0 : 1),
										  makeInteger(var->varattno)));
		if (driving)
			dattrs = bms_add_member(dattrs, var->varattno - FirstLowInvalidHeapAttributeNumber);
		else
			pattrs = bms_add_member(pattrs, var->varattno - FirstLowInvalidHeapAttributeNumber);
	}

	/* in this order: each part's expressions follow the previous part's */
	parts = list_make1(make_part(root, drel, dinfo,
								 planner_rt_fetch(drel->relid, root)->relid,
								 drel->baserestrictinfo, -1, false, -1,
								 dattrs, NULL, &fdw_exprs, &driver_quals));
	parts = lappend(parts, make_part(root, prel, pinfo,
									 planner_rt_fetch(prel->relid, root)->relid,
									 prel->baserestrictinfo, -1, false, -1,
									 pattrs, join_cols, &fdw_exprs,
									 &local_exprs));

	/*
	 * The driving relation's local quals run before its keys are collected,
	 * so that only the rows that pass cost requests; they ride at the end of
	 * fdw_exprs, where setrefs points their columns at the scan tuple.  The
	 * join clauses are all checked again on the joined row.
	 */
	fdw_exprs = list_concat(fdw_exprs, driver_quals);
	local_exprs = list_concat(local_exprs,
							  extract_actual_clauses(jinfo->joinclauses, false));

	return make_foreignscan(tlist, local_exprs, 0, fdw_exprs,
							list_make4(parts, keys, tlmap,
									   makeInteger(list_length(driver_quals))),
							scan_tlist, NIL, outer_plan);
}

static ForeignScan *
pgapiGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					Oid foreigntableid, ForeignPath *best_path,
					List *tlist, List *scan_clauses, Plan *outer_plan)
{
	PgApiRelInfo *info;
	List	   *local_exprs = NIL;
	List	   *fdw_exprs = NIL;
	List	   *part;

	if (IS_JOIN_REL(baserel))
		return plan_join(root, baserel, tlist, outer_plan);

	/* the path's parameterized clauses join the base ones in scan_clauses */
	info = (PgApiRelInfo *) baserel->fdw_private;
	part = make_part(root, baserel, info, foreigntableid, scan_clauses,
					 intVal(list_nth(best_path->fdw_private, FdwPathPrivateSortCol)),
					 intVal(list_nth(best_path->fdw_private, FdwPathPrivateSortDesc)) != 0,
					 intVal(list_nth(best_path->fdw_private, FdwPathPrivateLimit)),
					 bms_copy(info->attrs_used), NULL, &fdw_exprs, &local_exprs);

	return make_foreignscan(tlist, local_exprs, baserel->relid, fdw_exprs,
							list_make1(list_make1(part)), NIL, NIL, outer_plan);
}

/* ----------------------------------------------------------------
 *		Batched joins
 *
 * A join of two foreign tables of one server where a key column of one
 * (the dependent relation) equals a column of the other (the driving
 * relation) runs inside one ForeignScan: the driving relation is read
 * first, its local quals applied, its distinct key values collected; then
 * the dependent relation is asked for all of them at once, as one GraphQL
 * document with aliases or as concurrent REST requests.  So
 * "databases d JOIN query_stats q ON q.database_id = d.id" costs two
 * requests, where a nested loop would cost one per database.
 * ----------------------------------------------------------------
 */

/*
 * Find the key pairs that make prel dependent on drel: clauses
 * "prel.key_column = drel.column".  Returns NIL when prel cannot be asked
 * by drel's rows alone.
 */
static List *
find_join_keys(PlannerInfo *root, RelOptInfo *drel, RelOptInfo *prel,
			   List *restrictlist)
{
	PgApiRelInfo *pinfo = (PgApiRelInfo *) prel->fdw_private;
	PgApiRelInfo *dinfo = (PgApiRelInfo *) drel->fdw_private;
	List	   *keys = NIL;
	List	   *quals;
	ListCell   *lc;

	/* the driving relation must stand alone */
	if (missing_required(dinfo, dinfo->key_quals) != NIL)
		return NIL;

	foreach(lc, restrictlist)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		PgApiKeyQual qual;
		Expr	   *value;
		PgApiJoinKey *k;

		if (rinfo->pseudoconstant ||
			!pgapi_match_key_qual(root, prel, pinfo, rinfo->clause, &qual) ||
			qual.is_list || find_key_qual(pinfo->key_quals, qual.colidx))
			continue;
		value = qual.value;
		while (IsA(value, RelabelType))
			value = ((RelabelType *) value)->arg;
		if (!IsA(value, Var) || (Index) ((Var *) value)->varno != drel->relid ||
			((Var *) value)->varattno <= 0)
			continue;
		k = palloc(sizeof(PgApiJoinKey));
		k->colidx = qual.colidx;
		k->driver_attno = ((Var *) value)->varattno;
		keys = lappend(keys, k);
	}
	if (keys == NIL)
		return NIL;

	/* with the keys, the dependent relation must have all it needs */
	quals = list_copy(pinfo->key_quals);
	foreach(lc, keys)
	{
		PgApiKeyQual *q = palloc0(sizeof(PgApiKeyQual));

		q->colidx = ((PgApiJoinKey *) lfirst(lc))->colidx;
		quals = lappend(quals, q);
	}
	if (missing_required(pinfo, quals) != NIL)
		return NIL;
	return keys;
}

/* Does the expression use a whole-row or system column? */
static bool
has_special_vars(Node *node)
{
	List	   *vars = pull_var_clause(node, PVC_RECURSE_PLACEHOLDERS);
	ListCell   *lc;

	foreach(lc, vars)
		if (((Var *) lfirst(lc))->varattno <= 0)
			return true;
	return false;
}

static void
pgapiGetForeignJoinPaths(PlannerInfo *root, RelOptInfo *joinrel,
						 RelOptInfo *outerrel, RelOptInfo *innerrel,
						 JoinType jointype, JoinPathExtraData *extra)
{
	PgApiJoinInfo *jinfo;
	RelOptInfo *drel = outerrel;
	RelOptInfo *prel = innerrel;
	List	   *keys;
	PgApiRelInfo *pinfo;
	double		nkeys;
	double		requests;
	Cost		total;
	ListCell   *lc;

	if (joinrel->fdw_private != NULL || jointype != JOIN_INNER)
		return;
	if (outerrel->reloptkind != RELOPT_BASEREL ||
		innerrel->reloptkind != RELOPT_BASEREL)
		return;
	if (root->parse->commandType != CMD_SELECT || root->parse->rowMarks)
		return;
	if (has_special_vars((Node *) joinrel->reltarget->exprs))
		return;
	foreach(lc, extra->restrictlist)
		if (contain_subplans((Node *) ((RestrictInfo *) lfirst(lc))->clause))
			return;
	foreach(lc, outerrel->baserestrictinfo)
		if (contain_subplans((Node *) ((RestrictInfo *) lfirst(lc))->clause))
			return;
	foreach(lc, innerrel->baserestrictinfo)
		if (contain_subplans((Node *) ((RestrictInfo *) lfirst(lc))->clause))
			return;

	keys = find_join_keys(root, drel, prel, extra->restrictlist);
	if (keys == NIL)
	{
		drel = innerrel;
		prel = outerrel;
		keys = find_join_keys(root, drel, prel, extra->restrictlist);
	}
	if (keys == NIL)
		return;

	pinfo = (PgApiRelInfo *) prel->fdw_private;
	jinfo = palloc0(sizeof(PgApiJoinInfo));
	jinfo->driver = drel;
	jinfo->dependent = prel;
	jinfo->keys = keys;
	jinfo->joinclauses = extra->restrictlist;
	joinrel->fdw_private = jinfo;

	/*
	 * The driving relation's requests, then one request per batch of keys
	 * (GraphQL) or per key, max_concurrency at a time (REST): cheaper than
	 * a nested loop's request per outer row, so the planner picks it.
	 */
	nkeys = Max(drel->rows, 1);
	if (pinfo->res->gql_field)
		requests = ceil(nkeys / PGAPI_GQL_BATCH);
	else
		requests = nkeys / pinfo->opts.max_concurrency;
	total = drel->cheapest_total_path->total_cost +
		PGAPI_REQUEST_COST * requests + joinrel->rows * PGAPI_ROW_COST;

	add_path(joinrel, (Path *)
			 create_foreign_join_path(root, joinrel, NULL, joinrel->rows,
									  PGAPI_REQUEST_COST * 2, total, NIL,
									  joinrel->lateral_relids, NULL, NIL));
}

/* ----------------------------------------------------------------
 *		Execution
 * ----------------------------------------------------------------
 */

/*
 * Fill a side from its plan part: the resource, the attribute map, what to
 * send.  param_exprs are the part's ExprStates.
 */
static void
init_side(PgApiSide *side, List *part, Relation rel, List *param_exprs)
{
	PgApiScanSpec *spec = &side->spec;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			natts = tupdesc->natts;
	ForeignTable *table = GetForeignTable(RelationGetRelid(rel));
	PgApiTableOptions topts;
	ListCell   *lc;
	char	   *sort_by = strVal(list_nth(part, PartSortBy));

	pgapi_get_server_options(table->serverid, &side->opts);
	pgapi_get_table_options(RelationGetRelid(rel), &topts);
	spec->res = pgapi_lookup_resource(topts.resource, side->opts.api);
	spec->opts = &side->opts;
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
	foreach(lc, (List *) list_nth(part, PartAttrs))
		spec->attneeded[lfirst_int(lc) - 1] = true;

	spec->sort_by = sort_by[0] ? sort_by : NULL;
	spec->sort_desc = intVal(list_nth(part, PartSortDesc)) != 0;
	spec->limit = intVal(list_nth(part, PartLimit));

	side->param_desc = (List *) list_nth(part, PartParams);
	side->param_exprs = param_exprs;
	side->explain_lines = (List *) list_nth(part, PartExplain);
	side->values = palloc0(sizeof(Datum) * natts);
	side->isnull = palloc0(sizeof(bool) * natts);
}

static void
pgapiBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	PgApiScanState *fsstate;
	List	   *parts = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateParts);
	List	   *exprs;
	int			next_expr = 0;
	RangeTblEntry *rte;
	Oid			userid;
	int			rtoffset = 0;

	fsstate = palloc0(sizeof(PgApiScanState));
	node->fdw_state = fsstate;
	fsstate->explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	fsstate->nsides = list_length(parts);

	/*
	 * The parts name their relations by the planner's range table indexes;
	 * setrefs shifted the plan's (fs_relids) when it flattened the range
	 * tables of subqueries.  Apply the same shift.
	 */
	{
		int			lowest = INT_MAX;

		for (int i = 0; i < fsstate->nsides; i++)
			lowest = Min(lowest, intVal(list_nth(list_nth(parts, i), PartRelid)));
		rtoffset = bms_next_member(fsplan->fs_relids, -1) - lowest;
	}

	/*
	 * Run as the view owner or the current user (C5); in a join, both
	 * relations have the same user (the planner only joins those).
	 */
	rte = exec_rt_fetch(intVal(list_nth(linitial(parts), PartRelid)) + rtoffset,
						estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();

	exprs = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);
	for (int i = 0; i < fsstate->nsides; i++)
	{
		List	   *part = list_nth(parts, i);
		int			nparams = list_length((List *) list_nth(part, PartParams));
		Index		rti = intVal(list_nth(part, PartRelid)) + rtoffset;
		Relation	rel = fsplan->scan.scanrelid > 0 ?
			node->ss.ss_currentRelation : ExecGetRangeTableRelation(estate, rti);

		init_side(&fsstate->sides[i], part, rel,
				  list_copy_head(list_copy_tail(exprs, next_expr), nparams));
		fsstate->sides[i].rti = rti;
		next_expr += nparams;
		fsstate->sides[i].explain_lines = (List *) list_nth(part, PartExplain);
	}

	if (fsstate->nsides > 1)
	{
		List	   *tlmap = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateTlistMap);
		int			nquals = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateNQuals));
		ListCell   *lc;
		int			i = 0;

		fsstate->join_keys = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateJoinKeys);
		fsstate->ntl = list_length(tlmap);
		fsstate->tl_part = palloc(sizeof(int) * Max(fsstate->ntl, 1));
		fsstate->tl_attno = palloc(sizeof(int) * Max(fsstate->ntl, 1));
		foreach(lc, tlmap)
		{
			fsstate->tl_part[i] = intVal(linitial((List *) lfirst(lc)));
			fsstate->tl_attno[i] = intVal(lsecond((List *) lfirst(lc)));
			i++;
		}
		fsstate->driver_qual =
			ExecInitQual(list_copy_tail(fsplan->fdw_exprs,
										list_length(fsplan->fdw_exprs) - nquals),
						 (PlanState *) node);
	}

	/* plain EXPLAIN makes no request and reads no secret (W3, C4) */
	if (fsstate->explain_only)
		return;

	fsstate->user = GetUserMapping(userid, fsstate->sides[0].opts.serverid);

	fsstate->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
											  "pgapi_fdw scan",
											  ALLOCSET_DEFAULT_SIZES);
	fsstate->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
											  "pgapi_fdw temporary data",
											  ALLOCSET_SMALL_SIZES);
	if (fsstate->nsides > 1)
		fsstate->dep_cxt = AllocSetContextCreate(estate->es_query_cxt,
												 "pgapi_fdw dependent row",
												 ALLOCSET_SMALL_SIZES);
}

/*
 * Add one value of a request parameter, unless the column has it already.
 * Windows are truncated to what is sent, so the rows echo what was sent.
 */
static void
add_param_value(PgApiScanSpec *spec, int colidx, Datum value, Oid typid)
{
	const PgApiColumnDesc *col = &spec->res->columns[colidx];
	char	   *text = pgapi_format_value(value, typid, col->format, col->name,
										  spec->relname);
	PgApiParamValue *v;
	ListCell   *lc;

	foreach(lc, spec->params[colidx])
		if (strcmp(((PgApiParamValue *) lfirst(lc))->text, text) == 0)
			return;
	v = palloc(sizeof(PgApiParamValue));
	v->datum = value;
	v->text = text;
	if (col->format == PGAPI_FMT_RFC3339 || col->format == PGAPI_FMT_UNIX)
		v->datum = TimestampTzGetDatum(pgapi_truncate_ms(DatumGetTimestampTz(value)));
	spec->params[colidx] = lappend(spec->params[colidx], v);
}

/*
 * Evaluate a side's parameter expressions (constants, $n, outer rows,
 * stable expressions) into request values, deduplicated: "IN ('a', 'a')"
 * makes one request, not two.
 */
static void
evaluate_params(ForeignScanState *node, PgApiSide *side)
{
	PgApiScanSpec *spec = &side->spec;
	const PgApiResourceDesc *res = spec->res;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	ListCell   *ld;
	ListCell   *le;

	spec->params = palloc0(sizeof(List *) * res->ncolumns);
	spec->constrained = palloc0(sizeof(bool) * res->ncolumns);

	forboth(ld, side->param_desc, le, side->param_exprs)
	{
		List	   *desc = (List *) lfirst(ld);
		int			colidx = intVal(linitial(desc));
		bool		is_list = intVal(lsecond(desc)) != 0;
		ExprState  *expr = (ExprState *) lfirst(le);
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
			if (!nulls[i])
				add_param_value(spec, colidx, elems[i], elemtype);
	}
}

/*
 * Run the driving relation of a join to its end: keep the rows that pass
 * its local quals, and give the dependent side one assignment per distinct
 * key.
 */
static void
run_driver(ForeignScanState *node, PgApiScanState *fsstate)
{
	PgApiSide  *d = &fsstate->sides[0];
	PgApiSide  *p = &fsstate->sides[1];
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	TupleDesc	dtupdesc = d->spec.tupdesc;
	const PgApiResourceDesc *pres = p->spec.res;
	List	   *seen = NIL;
	int			cap = 16;

	p->spec.tuple_cols = palloc0(sizeof(bool) * pres->ncolumns);
	fsstate->drivers = palloc(sizeof(PgApiDriverRow) * cap);

	for (;;)
	{
		bool		found;
		PgApiDriverRow *row;
		StringInfoData key;
		PgApiParamValue **assign;
		ListCell   *lc;
		int			k = 0;
		bool		null_key = false;

		MemoryContextReset(fsstate->temp_cxt);
		found = pgapi_scan_next(d->scan, d->values, d->isnull);
		if (!found)
			break;

		/* the driving relation's local quals, on the scan tuple */
		if (fsstate->driver_qual)
		{
			ExecClearTuple(slot);
			for (int i = 0; i < fsstate->ntl; i++)
			{
				bool		driving = fsstate->tl_part[i] == 0;

				slot->tts_values[i] = driving ? d->values[fsstate->tl_attno[i] - 1] : (Datum) 0;
				slot->tts_isnull[i] = driving ? d->isnull[fsstate->tl_attno[i] - 1] : true;
			}
			ExecStoreVirtualTuple(slot);
			econtext->ecxt_scantuple = slot;
			if (!ExecQual(fsstate->driver_qual, econtext))
				continue;
		}

		/* the key, as the dependent side will send it */
		initStringInfo(&key);
		assign = palloc0(sizeof(PgApiParamValue *) * pres->ncolumns);
		foreach(lc, fsstate->join_keys)
		{
			int			colidx = intVal(linitial((List *) lfirst(lc)));
			int			attno = intVal(lsecond((List *) lfirst(lc)));
			Form_pg_attribute att = TupleDescAttr(dtupdesc, attno - 1);
			PgApiParamValue *v;

			if (d->isnull[attno - 1])
			{
				null_key = true;	/* an inner join never matches NULL */
				break;
			}
			v = palloc(sizeof(PgApiParamValue));
			v->datum = datumCopy(d->values[attno - 1], att->attbyval, att->attlen);
			v->text = pgapi_format_value(v->datum, att->atttypid,
										 pres->columns[colidx].format,
										 pres->columns[colidx].name,
										 p->spec.relname);
			assign[colidx] = v;
			p->spec.tuple_cols[colidx] = true;
			appendStringInfo(&key, "%s%s", k++ ? "\x1f" : "", v->text);
		}
		if (null_key)
			continue;

		if (fsstate->ndrivers == cap)
		{
			cap *= 2;
			fsstate->drivers = repalloc(fsstate->drivers, sizeof(PgApiDriverRow) * cap);
		}
		row = &fsstate->drivers[fsstate->ndrivers++];
		row->values = palloc(sizeof(Datum) * dtupdesc->natts);
		row->isnull = palloc(sizeof(bool) * dtupdesc->natts);
		for (int a = 0; a < dtupdesc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(dtupdesc, a);

			row->isnull[a] = d->isnull[a];
			row->values[a] = d->isnull[a] ? (Datum) 0 :
				datumCopy(d->values[a], att->attbyval, att->attlen);
		}
		row->key = key.data;

		if (!list_member(seen, makeString(key.data)))
		{
			seen = lappend(seen, makeString(key.data));
			p->spec.tuples = lappend(p->spec.tuples, assign);
		}
	}
	pgapi_scan_end(d->scan);
}

/* The key of the dependent side's current row, formatted as sent. */
static char *
dependent_key(PgApiScanState *fsstate)
{
	PgApiSide  *p = &fsstate->sides[1];
	StringInfoData key;
	ListCell   *lc;
	int			k = 0;

	initStringInfo(&key);
	foreach(lc, fsstate->join_keys)
	{
		int			colidx = intVal(linitial((List *) lfirst(lc)));
		const PgApiColumnDesc *col = &p->spec.res->columns[colidx];
		int			a;

		for (a = 0; a < p->spec.tupdesc->natts; a++)
			if (p->spec.attcol[a] == colidx)
				break;
		if (a == p->spec.tupdesc->natts || p->isnull[a])
			return NULL;
		appendStringInfo(&key, "%s%s", k++ ? "\x1f" : "",
						 pgapi_format_value(p->values[a],
											TupleDescAttr(p->spec.tupdesc, a)->atttypid,
											col->format, col->name,
											p->spec.relname));
	}
	return key.data;
}

/*
 * Next joined row into the scan slot; false at the end.
 *
 * A dependent row is joined with every driving row of its key, over as many
 * calls, so it and its key live in dep_cxt, not in the per-row context that
 * each call resets.
 */
static bool
next_join_row(ForeignScanState *node, PgApiScanState *fsstate)
{
	PgApiSide  *p = &fsstate->sides[1];
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext oldcxt;
	bool		found;

	for (;;)
	{
		/* the next driving row with the current dependent row's key */
		while (fsstate->dep_key && fsstate->next_driver < fsstate->ndrivers)
		{
			PgApiDriverRow *row = &fsstate->drivers[fsstate->next_driver++];

			if (strcmp(row->key, fsstate->dep_key) != 0)
				continue;
			for (int i = 0; i < fsstate->ntl; i++)
			{
				int			a = fsstate->tl_attno[i] - 1;

				if (fsstate->tl_part[i] == 0)
				{
					slot->tts_values[i] = row->values[a];
					slot->tts_isnull[i] = row->isnull[a];
				}
				else
				{
					slot->tts_values[i] = p->values[a];
					slot->tts_isnull[i] = p->isnull[a];
				}
			}
			return true;
		}

		/* the next dependent row */
		fsstate->dep_key = NULL;
		MemoryContextReset(fsstate->dep_cxt);
		oldcxt = MemoryContextSwitchTo(fsstate->dep_cxt);
		found = pgapi_scan_next(p->scan, p->values, p->isnull);
		if (found)
			fsstate->dep_key = dependent_key(fsstate);
		MemoryContextSwitchTo(oldcxt);
		if (!found)
			return false;
		fsstate->next_driver = 0;
	}
}

/* Start the scans at the first row: parameters are known by then. */
static void
start_scan(ForeignScanState *node, PgApiScanState *fsstate)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(fsstate->scan_cxt);

	for (int i = 0; i < fsstate->nsides; i++)
		evaluate_params(node, &fsstate->sides[i]);

	fsstate->sides[0].scan = pgapi_scan_begin(&fsstate->sides[0].spec,
											  fsstate->user, &fsstate->stats);
	if (fsstate->nsides > 1)
	{
		run_driver(node, fsstate);
		fsstate->sides[1].scan = pgapi_scan_begin(&fsstate->sides[1].spec,
												  fsstate->user,
												  &fsstate->stats);
	}
	fsstate->started = true;
	MemoryContextSwitchTo(oldcxt);
}

static TupleTableSlot *
pgapiIterateForeignScan(ForeignScanState *node)
{
	PgApiScanState *fsstate = (PgApiScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext oldcxt;
	bool		found;

	if (!fsstate->started)
		start_scan(node, fsstate);

	ExecClearTuple(slot);
	MemoryContextReset(fsstate->temp_cxt);
	oldcxt = MemoryContextSwitchTo(fsstate->temp_cxt);
	if (fsstate->nsides > 1)
		found = next_join_row(node, fsstate);
	else
		found = pgapi_scan_next(fsstate->sides[0].scan, slot->tts_values,
								slot->tts_isnull);
	MemoryContextSwitchTo(oldcxt);

	if (found)
		ExecStoreVirtualTuple(slot);
	return slot;
}

static void
end_scans(PgApiScanState *fsstate)
{
	for (int i = 0; i < fsstate->nsides; i++)
	{
		if (fsstate->sides[i].scan)
			pgapi_scan_end(fsstate->sides[i].scan);
		fsstate->sides[i].scan = NULL;
	}
}

static void
pgapiReScanForeignScan(ForeignScanState *node)
{
	PgApiScanState *fsstate = (PgApiScanState *) node->fdw_state;

	end_scans(fsstate);
	fsstate->started = false;
	fsstate->drivers = NULL;
	fsstate->ndrivers = 0;
	fsstate->dep_key = NULL;
	fsstate->sides[1].spec.tuples = NIL;
	MemoryContextReset(fsstate->scan_cxt);
	if (fsstate->dep_cxt)
		MemoryContextReset(fsstate->dep_cxt);
}

static void
pgapiEndForeignScan(ForeignScanState *node)
{
	PgApiScanState *fsstate = (PgApiScanState *) node->fdw_state;

	if (fsstate && !fsstate->explain_only)
		end_scans(fsstate);
}

static void
pgapiExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	PgApiScanState *fsstate = (PgApiScanState *) node->fdw_state;
	ListCell   *lc;

	if (es->verbose)
	{
		if (fsstate->nsides > 1)
		{
			PgApiSide  *p = &fsstate->sides[1];
			StringInfoData keys;

			initStringInfo(&keys);
			foreach(lc, fsstate->join_keys)
				appendStringInfo(&keys, "%s%s", keys.len ? ", " : "",
								 p->spec.res->columns[intVal(linitial((List *) lfirst(lc)))].name);
			ExplainPropertyText("API Join",
								psprintf("%s by %s of each %s row, %s",
										 p->spec.relname, keys.data,
										 fsstate->sides[0].spec.relname,
										 p->spec.res->gql_field ?
										 "batched into GraphQL documents" :
										 "requested concurrently"),
								es);
		}
		for (int i = 0; i < fsstate->nsides; i++)
			foreach(lc, fsstate->sides[i].explain_lines)
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
	routine->GetForeignJoinPaths = pgapiGetForeignJoinPaths;
	routine->BeginForeignScan = pgapiBeginForeignScan;
	routine->IterateForeignScan = pgapiIterateForeignScan;
	routine->ReScanForeignScan = pgapiReScanForeignScan;
	routine->EndForeignScan = pgapiEndForeignScan;
	routine->ExplainForeignScan = pgapiExplainForeignScan;

	/* IMPORT FOREIGN SCHEMA (import.c) */
	routine->ImportForeignSchema = pgapiImportForeignSchema;
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
	pgapi_scan_init();
	pgapi_ratelimit_init();
	pgapi_cache_init();
	pgapi_modify_init();
}

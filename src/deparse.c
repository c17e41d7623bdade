/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Which quals can be sent to the API, and how values are written
 *		  into requests.
 *
 * A qual is sent only when the API applies exactly the same test
 * (DESIGN.md, "Pushdown rules"): "key_column = value" or
 * "key_column = ANY(array)" with the type's own equality operator, a
 * deterministic collation, and a value that does not depend on the row
 * (a constant, a parameter, an outer row's column, or a stable
 * expression; never a volatile one).  Everything else stays a local
 * filter.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/deparse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "pgapi_fdw.h"

/*
 * Strip implicit binary-compatible casts, so "varchar_col = 'x'" is seen.
 */
static Expr *
strip_relabel(Expr *expr)
{
	while (expr && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	return expr;
}

/*
 * Is var a column of baserel that the resource can take as a request
 * parameter?  Returns the column index or -1.
 */
static int
key_column_of(RelOptInfo *baserel, PgApiRelInfo *info, Expr *expr)
{
	Var		   *var;
	int			colidx;
	const PgApiColumnDesc *col;
	Oid			typid;

	expr = strip_relabel(expr);
	if (expr == NULL || !IsA(expr, Var))
		return -1;
	var = (Var *) expr;
	if ((Index) var->varno != baserel->relid || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varattno > info->natts)
		return -1;
	colidx = info->attcol[var->varattno - 1];
	if (colidx < 0)
		return -1;
	col = &info->res->columns[colidx];
	if (!(col->flags & PGAPI_COL_KEY) || col->loc == PGAPI_LOC_NONE)
		return -1;

	/* the value is written in the API's format; the SQL type must fit it */
	typid = var->vartype;
	switch (col->format)
	{
		case PGAPI_FMT_RFC3339:
		case PGAPI_FMT_UNIX:
			if (typid != TIMESTAMPTZOID)
				return -1;
			break;
		case PGAPI_FMT_INT:
			if (typid != INT2OID && typid != INT4OID && typid != INT8OID)
				return -1;
			break;
		case PGAPI_FMT_BOOL:
			if (typid != BOOLOID)
				return -1;
			break;
		case PGAPI_FMT_TEXT:
		case PGAPI_FMT_ID:
			if (typid != TEXTOID && typid != VARCHAROID)
				return -1;
			break;
	}
	return colidx;
}

/*
 * The value side must not depend on this relation's row and must not be
 * volatile.  Outer relations' columns are fine: they make a parameterized
 * path, and the planner turns them into nestloop parameters.
 */
static bool
value_is_usable(RelOptInfo *baserel, Expr *value)
{
	Relids		relids = pull_varnos(NULL, (Node *) value);

	if (bms_is_member(baserel->relid, relids))
		return false;
	if (contain_volatile_functions((Node *) value))
		return false;
	if (contain_subplans((Node *) value))
		return false;
	return true;
}

/*
 * The operator must be the column type's own equality, and the comparison
 * must be deterministic (the API compares bytes).
 */
static bool
is_plain_equality(Oid opno, Oid typid, Oid inputcollid)
{
	TypeCacheEntry *tce = lookup_type_cache(typid, TYPECACHE_EQ_OPR);

	if (!OidIsValid(tce->eq_opr) || tce->eq_opr != opno)
		return false;
	if (OidIsValid(inputcollid) && !get_collation_isdeterministic(inputcollid))
		return false;
	return true;
}

/*
 * pgapi_match_key_qual
 *		If clause is "key_column = value" or "key_column = ANY(array)" that
 *		the API applies exactly, fill qual and return true.
 */
bool
pgapi_match_key_qual(PlannerInfo *root, RelOptInfo *baserel,
					 PgApiRelInfo *info, Expr *clause, PgApiKeyQual *qual)
{
	/*
	 * The planner writes "flag = true" as "flag" and "flag = false" as "NOT
	 * flag": send them as the equality they are.
	 */
	if (IsA(clause, Var) || (is_notclause(clause) &&
							 IsA(get_notclausearg(clause), Var)))
	{
		bool		negated = !IsA(clause, Var);
		Var		   *var = negated ? (Var *) get_notclausearg(clause) : (Var *) clause;
		int			colidx = key_column_of(baserel, info, (Expr *) var);

		if (colidx < 0 || var->vartype != BOOLOID)
			return false;
		qual->colidx = colidx;
		qual->attnum = var->varattno;
		qual->value = (Expr *) makeBoolConst(!negated, false);
		qual->is_list = false;
		return true;
	}

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Expr	   *left;
		Expr	   *right;
		int			colidx;

		if (list_length(op->args) != 2)
			return false;
		left = linitial(op->args);
		right = lsecond(op->args);

		colidx = key_column_of(baserel, info, left);
		if (colidx < 0)
		{
			/* commute: "value = column" */
			Expr	   *tmp = left;

			left = right;
			right = tmp;
			colidx = key_column_of(baserel, info, left);
		}
		if (colidx < 0)
			return false;
		if (!is_plain_equality(op->opno, exprType((Node *) strip_relabel(left)),
							   op->inputcollid))
			return false;
		if (!value_is_usable(baserel, right))
			return false;

		qual->colidx = colidx;
		qual->attnum = ((Var *) strip_relabel(left))->varattno;
		qual->value = right;
		qual->is_list = false;
		return true;
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;
		Expr	   *left = linitial(saop->args);
		Expr	   *right = lsecond(saop->args);
		int			colidx;

		if (!saop->useOr)
			return false;
		colidx = key_column_of(baserel, info, left);
		if (colidx < 0)
			return false;
		if (info->res->columns[colidx].flags & PGAPI_COL_SCALAR_ONLY)
			return false;
		if (!is_plain_equality(saop->opno, exprType((Node *) strip_relabel(left)),
							   saop->inputcollid))
			return false;
		if (!value_is_usable(baserel, right))
			return false;

		qual->colidx = colidx;
		qual->attnum = ((Var *) strip_relabel(left))->varattno;
		qual->value = right;
		qual->is_list = true;
		return true;
	}
	return false;
}

/*
 * pgapi_format_value
 *		Write a SQL value the way the API takes it.  ERROR (naming the column
 *		and table) when the value cannot be sent, e.g. an identifier with
 *		characters that could change the request's path (RELIABILITY C12).
 */
char *
pgapi_format_value(Datum value, Oid typid, PgApiValueFormat format,
				   const char *colname, const char *relname)
{
	switch (format)
	{
		case PGAPI_FMT_RFC3339:
		case PGAPI_FMT_UNIX:
			{
				TimestampTz ts = DatumGetTimestampTz(value);
				char		buf[PGAPI_RFC3339_LEN + 1];

				if (TIMESTAMP_NOT_FINITE(ts))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("infinite timestamp cannot be sent for column \"%s\" of foreign table \"%s\"",
									colname, relname)));
				if (format == PGAPI_FMT_UNIX)
					return psprintf(INT64_FORMAT, pgapi_unix_seconds(ts));
				/* UTC, whatever the session's TimeZone (RELIABILITY B11) */
				if (!pgapi_format_rfc3339(ts, buf))
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("timestamp out of range for column \"%s\" of foreign table \"%s\"",
									colname, relname)));
				return pstrdup(buf);
			}
		case PGAPI_FMT_INT:
			switch (typid)
			{
				case INT2OID:
					return psprintf("%d", (int) DatumGetInt16(value));
				case INT4OID:
					return psprintf("%d", DatumGetInt32(value));
				default:
					return psprintf(INT64_FORMAT, DatumGetInt64(value));
			}
		case PGAPI_FMT_BOOL:
			return pstrdup(DatumGetBool(value) ? "true" : "false");
		case PGAPI_FMT_ID:
			{
				char	   *s = TextDatumGetCString(value);

				for (const char *p = s; *p; p++)
				{
					if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
						  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid identifier for column \"%s\" of foreign table \"%s\": \"%s\"",
										colname, relname, s),
								 errdetail("Identifiers sent to the API may contain only letters, digits, \"-\" and \"_\".")));
				}
				if (*s == '\0')
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("empty identifier for column \"%s\" of foreign table \"%s\"",
									colname, relname)));
				return s;
			}
		case PGAPI_FMT_TEXT:
			{
				Oid			outfunc;
				bool		isvarlena;

				getTypeOutputInfo(typid, &outfunc, &isvarlena);
				return OidOutputFunctionCall(outfunc, value);
			}
	}
	elog(ERROR, "unrecognized value format %d", (int) format);
	return NULL;				/* keep compiler quiet */
}

/*
 * pgapi_append_escaped
 *		Percent-encode s for a URL path segment or query value: everything
 *		but RFC 3986 unreserved characters and ":", which both allow (so
 *		timestamps stay readable in EXPLAIN and logs).
 */
void
pgapi_append_escaped(StringInfo buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == ':')
			appendStringInfoChar(buf, *p);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[*p >> 4]);
			appendStringInfoChar(buf, hex[*p & 0x0F]);
		}
	}
}

/*
 * pgapi_fill_path
 *		Expand a path template.  "{organization_id}" takes organization_id,
 *		"{column}" takes values[column index], escaped as one segment.  A
 *		value that is not known (NULL) stays a "{column}" placeholder, as
 *		EXPLAIN prints it.
 */
char *
pgapi_fill_path(const char *template, const char *const *values,
				const PgApiResourceDesc *res, const char *organization_id)
{
	StringInfoData buf;
	const char *p = template;

	initStringInfo(&buf);
	while (*p)
	{
		const char *end;
		char	   *name;
		const char *value = NULL;

		if (*p != '{' || (end = strchr(p, '}')) == NULL)
		{
			appendStringInfoChar(&buf, *p++);
			continue;
		}
		name = pnstrdup(p + 1, end - p - 1);
		if (strcmp(name, "organization_id") == 0)
			value = organization_id;
		else
		{
			for (int i = 0; i < res->ncolumns; i++)
				if (strcmp(res->columns[i].name, name) == 0)
					value = values ? values[i] : NULL;
		}
		if (value && value[0] == '{')
			appendStringInfoString(&buf, value);	/* EXPLAIN placeholder */
		else if (value)
			pgapi_append_escaped(&buf, value);
		else
			appendStringInfo(&buf, "{%s}", name);
		p = end + 1;
	}
	return buf.data;
}

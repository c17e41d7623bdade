/*-------------------------------------------------------------------------
 *
 * graphql.c
 *		  GraphQL documents for the pganalyze API, and their responses.
 *
 * A request is one document with one aliased root field per request
 * stream ("d0: getQueryStats(...)", "d1: ..."), so several database ids
 * cost one HTTP request.  Values travel only as variables, never spliced
 * into the document (RELIABILITY C12).  The selection set holds only the
 * fields the query needs.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/graphql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "pgapi_fdw.h"

/* A node of the selection tree. */
typedef struct GqlNode
{
	char	   *name;
	const char *subselect;		/* leaf selection of an object field */
	List	   *children;		/* GqlNode * */
} GqlNode;

static GqlNode *
gql_child(GqlNode *parent, const char *name)
{
	ListCell   *lc;
	GqlNode    *n;

	foreach(lc, parent->children)
	{
		n = lfirst(lc);
		if (strcmp(n->name, name) == 0)
			return n;
	}
	n = palloc0(sizeof(GqlNode));
	n->name = pstrdup(name);
	parent->children = lappend(parent->children, n);
	return n;
}

static void
gql_render(StringInfo buf, GqlNode *node)
{
	ListCell   *lc;

	appendStringInfoString(buf, " {");
	foreach(lc, node->children)
	{
		GqlNode    *child = lfirst(lc);

		appendStringInfo(buf, " %s", child->name);
		if (child->children)
			gql_render(buf, child);
		else if (child->subselect)
			appendStringInfo(buf, " { %s }", child->subselect);
	}
	appendStringInfoString(buf, " }");
}

/* Is s a GraphQL name ([_A-Za-z][_0-9A-Za-z]*)? */
static bool
is_gql_name(const char *s, int len)
{
	if (len <= 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (int i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			  (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Add one field (a member name or a JSON pointer) below node. */
static void
gql_add_field(GqlNode *node, const char *field, const char *subselect)
{
	const char *p = field;

	if (*p != '/')
	{
		if (!is_gql_name(p, strlen(p)))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("field \"%s\" is not a GraphQL field name", field)));
		gql_child(node, p)->subselect = subselect;
		return;
	}
	while (*p == '/')
	{
		const char *end = strchr(p + 1, '/');
		int			len = end ? end - (p + 1) : (int) strlen(p + 1);
		char	   *seg = pnstrdup(p + 1, len);
		bool		numeric = len > 0 && strspn(seg, "0123456789") == (size_t) len;

		/* list indexes are transparent in a selection */
		if (!numeric)
		{
			if (!is_gql_name(seg, len))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("field \"%s\" is not a GraphQL field path", field)));
			node = gql_child(node, seg);
		}
		p = end ? end : p + 1 + len;
	}
	node->subselect = subselect;
}

/*
 * pgapi_graphql_selection
 *		The selection set of the root field for the given row fields:
 *		fields[i] at column level levels[i] (0 is the row element).  Each
 *		level of nesting gets at least one field, so rows exist even when
 *		the query needs no column (count(*)).
 */
char *
pgapi_graphql_selection(const PgApiResourceDesc *res,
						const char *const *fields, const int *levels,
						const char *const *subselects, int nfields)
{
	GqlNode		root = {0};
	StringInfoData buf;
	int			n = res->nsteps;

	for (int i = 0; i < nfields; i++)
	{
		GqlNode    *node = &root;
		int			k = n - 1 - levels[i];

		for (int s = 1; s <= k && s < n; s++)
			if (res->steps[s].member)
				node = gql_child(node, res->steps[s].member);
		gql_add_field(node, fields[i], subselects ? subselects[i] : NULL);
	}

	/* make sure every level has a selection */
	{
		GqlNode    *node = &root;

		for (int s = 1; s < n; s++)
			if (res->steps[s].member)
				node = gql_child(node, res->steps[s].member);
		if (node->children == NIL)
		{
			for (int c = 0; c < res->ncolumns; c++)
			{
				const PgApiColumnDesc *col = &res->columns[c];

				if (col->level == 0 && !(col->flags & PGAPI_COL_ECHO) &&
					col->gql_subselect == NULL)
				{
					gql_add_field(node, col->field ? col->field :
								  pgapi_default_field(col->name), NULL);
					break;
				}
			}
		}
	}

	initStringInfo(&buf);
	gql_render(&buf, &root);
	return buf.data + 1;		/* skip the leading space */
}

/* The declared GraphQL type of an argument, from the descriptor. */
static char *
arg_type(const PgApiResourceDesc *res, const char *param)
{
	const char *p = res->gql_args;
	size_t		plen = strlen(param);

	while (p && *p)
	{
		const char *colon;
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		colon = strchr(p, ':');
		if (colon == NULL)
			break;
		end = strchr(colon, ',');
		if (end == NULL)
			end = colon + strlen(colon);
		if ((size_t) (colon - p) == plen && strncmp(p, param, plen) == 0)
		{
			const char *t = colon + 1;

			while (*t == ' ')
				t++;
			return pnstrdup(t, end - t);
		}
		p = end;
	}
	elog(ERROR, "resource \"%s\" declares no GraphQL argument \"%s\"",
		 res->name, param);
	return NULL;				/* keep compiler quiet */
}

static void
add_variable(PgApiJsonBuilder *vars, const char *name, const char *type,
			 const char *text)
{
	if (strncmp(type, "Int", 3) == 0)
	{
		char	   *end;
		long long	v;

		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value \"%s\" does not fit the GraphQL Int argument of variable \"%s\"",
							text, name)));
		pgapi_jb_add_int64(vars, name, v);
	}
	else if (strncmp(type, "Boolean", 7) == 0)
		pgapi_jb_add_bool(vars, name, strcmp(text, "true") == 0);
	else
		pgapi_jb_add_string(vars, name, text);
}

/*
 * pgapi_graphql_document
 *		A request body {"query": ..., "variables": ...} asking the resource's
 *		root field once per stream, aliased d0, d1, ...  texts[i][c] is the
 *		value stream i sends for column c (NULL: not sent); lists[c] holds
 *		all values of a list argument (PGAPI_COL_GQL_LIST).
 */
char *
pgapi_graphql_document(const PgApiResourceDesc *res, const char *selection,
					   const char *const *const *texts, List *const *lists,
					   int nstreams, size_t *len)
{
	StringInfoData decls;
	StringInfoData body;
	PgApiJsonBuilder *vars = pgapi_jb_object();
	PgApiJsonBuilder *doc = pgapi_jb_object();

	initStringInfo(&decls);
	initStringInfo(&body);

	for (int i = 0; i < nstreams; i++)
	{
		bool		first = true;

		appendStringInfo(&body, " d%d: %s", i, res->gql_field);
		for (int c = 0; c < res->ncolumns; c++)
		{
			const PgApiColumnDesc *col = &res->columns[c];
			char	   *var;
			char	   *type;

			if (col->loc != PGAPI_LOC_VARIABLE)
				continue;
			if ((col->flags & PGAPI_COL_GQL_LIST) ?
				(lists == NULL || lists[c] == NIL) :
				(texts == NULL || texts[i][c] == NULL))
				continue;
			var = psprintf("d%d_%s", i, col->param);
			type = arg_type(res, col->param);
			appendStringInfo(&decls, "%s$%s: %s", decls.len ? ", " : "", var, type);
			appendStringInfo(&body, "%s%s: $%s", first ? "(" : ", ", col->param, var);
			first = false;

			if (col->flags & PGAPI_COL_GQL_LIST)
			{
				PgApiJsonBuilder *arr = pgapi_jb_array();
				ListCell   *lc;

				foreach(lc, lists[c])
					pgapi_jb_add_string(arr, NULL, ((PgApiParamValue *) lfirst(lc))->text);
				pgapi_jb_add_builder(vars, var, arr);
			}
			else
				add_variable(vars, var, type, texts[i][c]);
		}
		if (!first)
			appendStringInfoChar(&body, ')');
		appendStringInfo(&body, " %s", selection);
	}

	pgapi_jb_add_string(doc, "query",
						psprintf("query pgapi_fdw%s%s%s {%s }",
								 decls.len ? "(" : "", decls.data,
								 decls.len ? ")" : "", body.data));
	pgapi_jb_add_builder(doc, "variables", vars);
	return pgapi_jb_finish(doc, len);
}

/*
 * pgapi_graphql_describe
 *		One request as EXPLAIN prints it: the root field with its arguments
 *		(known values, or "{column}" placeholders) and the selection.
 */
char *
pgapi_graphql_describe(const PgApiResourceDesc *res, const char *selection,
					   const char *const *texts, const bool *constrained)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "POST %s", res->gql_field);
	for (int c = 0; c < res->ncolumns; c++)
	{
		const PgApiColumnDesc *col = &res->columns[c];

		if (col->loc != PGAPI_LOC_VARIABLE || (!constrained[c] && texts[c] == NULL))
			continue;
		appendStringInfo(&buf, "%s%s: ", first ? "(" : ", ", col->param);
		if (texts[c] && texts[c][0] != '{')
			appendStringInfo(&buf, "\"%s\"", texts[c]);
		else
			appendStringInfo(&buf, "{%s}", col->name);
		first = false;
	}
	if (!first)
		appendStringInfoChar(&buf, ')');
	appendStringInfo(&buf, " %s", selection);
	return buf.data;
}

/*
 * pgapi_graphql_data
 *		The value of alias d<alias> in a GraphQL response, after checking the
 *		envelope: any error, even beside partial data, is an ERROR
 *		(RELIABILITY B8), with the messages, paths and codes in DETAIL.
 */
PgApiJsonValue
pgapi_graphql_data(PgApiRequest *req, PgApiJsonDoc *doc, int alias)
{
	PgApiJsonValue root = pgapi_json_root(doc);
	PgApiJsonValue errors;
	PgApiJsonValue data;
	char		name[32];

	if (pgapi_json_type(root) != PGAPI_JSON_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("unexpected response from the pganalyze API"),
				 errdetail("The response is not a JSON object."),
				 errcontext("remote request: POST %s", req->label)));

	errors = pgapi_json_get(root, "errors");
	if (pgapi_json_type(errors) != PGAPI_JSON_NULL &&
		!(pgapi_json_type(errors) == PGAPI_JSON_ARRAY &&
		  pgapi_json_array_length(errors) == 0))
	{
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("pganalyze API returned an error"),
				 errdetail_internal("%s", pgapi_http_error_detail(req)),
				 errcontext("remote request: POST %s", req->label)));
	}

	data = pgapi_json_get(root, "data");
	if (pgapi_json_type(data) != PGAPI_JSON_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("unexpected response from the pganalyze API"),
				 errdetail("The response has no \"data\" object."),
				 errcontext("remote request: POST %s", req->label)));
	snprintf(name, sizeof(name), "d%d", alias);
	return pgapi_json_get(data, name);
}

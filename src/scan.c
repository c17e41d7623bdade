/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing a scan: requests, pages and rows.
 *
 * A scan is a list of request streams.  Each stream is one assignment of
 * request parameters (the cross product of the values the quals gave, one
 * stream per service when service_id must be fanned out) and is paged
 * when the resource pages.  Streams run on one HTTP queue, at most
 * max_concurrency requests ahead; a page's successor is requested as soon
 * as the page arrives, so the next page is on the wire while this one is
 * turned into rows.  Each response lives in its own memory context (body
 * and JSON tree), deleted once its rows are out: memory is bounded by a
 * few pages, not by the result.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "pgapi_fdw.h"

#define PGAPI_MAX_LEVELS 4

/*
 * Rows emitted between two non-blocking polls of the request queue while a
 * page is turned into rows (a power of two).
 */
#define PGAPI_POLL_ROWS 64

/* Bytes of a page's rows hashed at each end for its PgApiPageMark. */
#define PGAPI_MARK_BYTES 4096

/* pgapi_fdw.tape_parser: read pages of rows from a tape (jsontape.c) */
static bool pgapi_tape_parser = true;

/* A stream: one assignment of parameters, paged. */
typedef struct PgApiStream
{
	PgApiParamValue **assign;	/* column index -> value, or NULL */
	bool		single;			/* one-object GET (by id) */
	int64		offset;			/* next page's offset */
	int64		fetched;		/* rows received so far */
	int			npages;			/* full pages so far (B10) */
} PgApiStream;

/*
 * What tells the pages of a stream apart, for "pagination did not advance"
 * (RELIABILITY B10): the stream, the page's row count, the length of its
 * rows' JSON text and a 64-bit hash of that text's first and last
 * PGAPI_MARK_BYTES bytes.  A key of PgApiScan.page_marks (HASH_BLOBS: no
 * padding, zeroed before use).
 */
typedef struct PgApiPageMark
{
	PgApiStream *stream;
	int64		nrows;
	uint64		len;
	uint64		hash;
} PgApiPageMark;

/* An entry of PgApiScan.page_marks: a mark and the number of its page. */
typedef struct PgApiPageMarkEntry
{
	PgApiPageMark mark;
	int			page;			/* 1-based, among the stream's full pages */
} PgApiPageMarkEntry;

/* One HTTP request: one stream (REST) or a batch of them (GraphQL). */
typedef struct PgApiFetch
{
	int			nstreams;
	PgApiStream **streams;
} PgApiFetch;

/* Iterator over the rows of one page. */
typedef struct PgApiRowIter
{
	int			nlevels;
	PgApiJsonValue container[PGAPI_MAX_LEVELS];
	int			count[PGAPI_MAX_LEVELS];
	int			index[PGAPI_MAX_LEVELS];
	bool		entries[PGAPI_MAX_LEVELS];
	bool		single[PGAPI_MAX_LEVELS];
	PgApiJsonValue elem[PGAPI_MAX_LEVELS];
	const char *key[PGAPI_MAX_LEVELS];
} PgApiRowIter;

struct PgApiScan
{
	PgApiScanSpec *spec;
	const PgApiResourceDesc *res;
	PgApiConnection *conn;
	PgApiStats *stats;
	MemoryContext cxt;			/* scan lifetime */
	char	   *organization_id;

	char	   *selection;		/* GraphQL selection set */
	PgApiJsonPath **paths;		/* attnum - 1 -> compiled field path */
	PgApiColumnConv *convs;		/* attnum - 1 -> conversion */
	bool	   *notnull;		/* attnum - 1 -> declared NOT NULL */
	bool		need_detail;	/* DETAIL columns wanted from a list */
	int			id_colidx;		/* the PGAPI_COL_ID column, or -1 */

	List	   *streams;		/* PgApiStream * */
	int			next_stream;	/* first stream not yet started */
	PgApiHttpQueue *queue;
	int			pages_requested;
	int64		emitted;

	/* the page being read */
	MemoryContext page_cxt;
	PgApiRequest *page_req;
	PgApiJsonDoc *page_doc;
	PgApiFetch *page_fetch;
	int			payload_idx;	/* stream of page_fetch being read */
	PgApiStream *page_stream;
	PgApiRowIter iter;
	bool		have_row;
	PgApiJsonValue *details;	/* per row of the page, for DETAIL columns */
	int			row_number;
	HTAB	   *page_marks;		/* PgApiPageMark of every full page so far */

	/*
	 * Reading a page from its tape instead of a json-c tree (use_tape: the
	 * resource's rows are the objects of "result", and every column needed
	 * is a member path or an echoed parameter).  tkey holds the distinct
	 * first members of the columns' paths; for the row being built,
	 * tkey_node holds each one's value node (0: absent), found by walking
	 * the row's members once, guided by tkey_pred: the key matched at each
	 * member position of the previous row.
	 */
	bool		use_tape;
	int			ntkeys;
	const char **tkey;
	size_t	   *tkeylen;
	uint32	   *tkey_node;
	int		   *tkey_pred;
	uint32		npred;
	int		   *att_tkey;		/* attnum - 1 -> tkey index, -1: none */
	int		   *att_nsegs;		/* attnum - 1 -> steps of its path */
	PgApiTape  *page_tape;		/* the page's tape, NULL: read from page_doc */
	uint32		tape_row;		/* node of the current row's object */
	int64		tape_rows_left; /* rows after it */

	/* error context */
	int			cur_attnum;
};

/* errcontext of a response being decoded */
static void
response_error_callback(void *arg)
{
	PgApiRequest *req = (PgApiRequest *) arg;

	errcontext("remote request: %s %s", pgapi_method_name(req->method),
			   req->label ? req->label : req->path);
}

/*
 * Parse a response body, naming the request in any error (B2, B3, B7).
 * The document belongs to CurrentMemoryContext.  A Prometheus text body
 * (req->expect_text) is converted to JSON rows by prometheus.c first.
 */
static PgApiJsonDoc *
parse_response(PgApiRequest *req)
{
	ErrorContextCallback errcallback;
	PgApiJsonDoc *doc;

	errcallback.callback = response_error_callback;
	errcallback.arg = req;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	if (req->expect_text)
	{
		/*
		 * A text response (PGAPI_BODY_PROMETHEUS) becomes a JSON document of
		 * rows first, so that the row iterator below walks it like any
		 * other payload.
		 */
		size_t		len;
		char	   *json = pgapi_prometheus_to_json(req->data, req->data_len,
													&len);

		doc = pgapi_json_parse(json, len);
	}
	else
		doc = pgapi_json_parse(req->data, req->data_len);
	error_context_stack = errcallback.previous;
	return doc;
}

/*
 * The tape of a response body (jsontape.c), with the same error context as
 * parse_response for the checks it makes (UTF-8, size); NULL when the tape
 * parser refuses the body, which then goes to parse_response.  The tape
 * belongs to CurrentMemoryContext.
 */
static PgApiTape *
parse_response_tape(PgApiRequest *req)
{
	ErrorContextCallback errcallback;
	PgApiTape  *tape;

	errcallback.callback = response_error_callback;
	errcallback.arg = req;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	tape = pgapi_json_parse_tape(req->data, req->data_len);
	error_context_stack = errcallback.previous;
	return tape;
}

/* Discovered organization ids, per server and user mapping. */
typedef struct OrgCacheEntry
{
	Oid			serverid;
	Oid			umid;
	char		organization_id[NAMEDATALEN * 2];
} OrgCacheEntry;

static List *org_cache = NIL;
static bool org_cache_registered = false;

static void
org_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	list_free_deep(org_cache);
	org_cache = NIL;
}

/*
 * Organization to use: the server option, or the key's one organization
 * (DESIGN.md "organization_id"), found with one request and remembered
 * until the server or user mapping changes.
 */
static char *
discover_organization(PgApiScan *scan, UserMapping *user)
{
	const PgApiServerOptions *opts = scan->spec->opts;
	ListCell   *lc;
	PgApiRequest *req;
	PgApiJsonDoc *doc;
	PgApiJsonValue result;
	int			n;
	OrgCacheEntry *entry;
	MemoryContext oldcxt;

	if (opts->organization_id)
		return pstrdup(opts->organization_id);

	foreach(lc, org_cache)
	{
		entry = (OrgCacheEntry *) lfirst(lc);
		if (entry->serverid == opts->serverid && entry->umid == user->umid)
			return pstrdup(entry->organization_id);
	}

	if (!org_cache_registered)
	{
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, org_cache_invalidate, 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID, org_cache_invalidate, 0);
		org_cache_registered = true;
	}

	req = pgapi_request_new(CurrentMemoryContext, PGAPI_GET, "/v1/organizations");
	pgapi_http_execute(scan->conn, req, scan->stats);
	doc = parse_response(req);
	result = pgapi_json_get(pgapi_json_root(doc), "result");
	if (pgapi_json_type(result) != PGAPI_JSON_ARRAY)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("unexpected response from the ClickHouse Cloud API"),
				 errdetail("The organization list has no \"result\" array."),
				 errcontext("remote request: GET /v1/organizations")));
	n = pgapi_json_array_length(result);
	if (n != 1)
	{
		StringInfoData list;

		initStringInfo(&list);
		for (int i = 0; i < n; i++)
		{
			PgApiJsonValue org = pgapi_json_array_get(result, i);
			char	   *id = pgapi_json_scalar_text(pgapi_json_get(org, "id"));
			char	   *name = pgapi_json_scalar_text(pgapi_json_get(org, "name"));

			appendStringInfo(&list, "%s%s (%s)", i ? ", " : "",
							 id ? id : "?", name ? name : "?");
		}
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no organization_id and the API key sees %d organizations",
						GetForeignServer(opts->serverid)->servername, n),
				 n > 0 ? errdetail_internal("Organizations: %s.", list.data) : 0,
				 errhint("Set the server option organization_id.")));
	}

	{
		char	   *id = pgapi_json_scalar_text(pgapi_json_get(pgapi_json_array_get(result, 0), "id"));

		if (id == NULL || strlen(id) >= sizeof(entry->organization_id))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
					 errmsg("unexpected response from the ClickHouse Cloud API"),
					 errdetail("The organization has no usable \"id\".")));
		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		entry = palloc0(sizeof(OrgCacheEntry));
		entry->serverid = opts->serverid;
		entry->umid = user->umid;
		strlcpy(entry->organization_id, id, sizeof(entry->organization_id));
		org_cache = lappend(org_cache, entry);
		MemoryContextSwitchTo(oldcxt);
		return pstrdup(id);
	}
}

/*
 * pgapi_organization_id
 *		The organization a server works on, as discover_organization finds
 *		it, for callers that are not scans (writes, functions).  May make
 *		one GET /v1/organizations request on conn.  palloc'd in
 *		CurrentMemoryContext.
 */
char *
pgapi_organization_id(const PgApiServerOptions *opts, UserMapping *user,
					  PgApiConnection *conn, PgApiStats *stats)
{
	PgApiScanSpec spec;
	PgApiScan	scan;

	memset(&spec, 0, sizeof(spec));
	memset(&scan, 0, sizeof(scan));
	spec.opts = opts;
	scan.spec = &spec;
	scan.conn = conn;
	scan.stats = stats;
	return discover_organization(&scan, user);
}

/*
 * The query string of a request: the parameters in descriptor order, then
 * sorting and paging.
 */
static void
append_query(StringInfo buf, const PgApiResourceDesc *res,
			 const char *const *texts, const char *sort_by, bool sort_desc,
			 int64 limit, int64 offset)
{
	char		sep = '?';

	for (int i = 0; i < res->ncolumns; i++)
	{
		const PgApiColumnDesc *col = &res->columns[i];

		if (col->loc != PGAPI_LOC_QUERY || texts[i] == NULL)
			continue;
		appendStringInfoChar(buf, sep);
		appendStringInfo(buf, "%s=", col->param);
		if (texts[i][0] == '{')
			appendStringInfoString(buf, texts[i]);	/* EXPLAIN placeholder */
		else
			pgapi_append_escaped(buf, texts[i]);
		sep = '&';
	}
	if (sort_by)
	{
		appendStringInfo(buf, "%csort_by=%s&sort_order=%s", sep, sort_by,
						 sort_desc ? "desc" : "asc");
		sep = '&';
	}
	if (limit >= 0)
	{
		appendStringInfo(buf, "%climit=" INT64_FORMAT, sep, limit);
		sep = '&';
	}
	if (offset > 0)
		appendStringInfo(buf, "%coffset=" INT64_FORMAT, sep, offset);
}

/* Page size of the next request of a stream; -1 when the API does not page. */
static int64
page_limit(PgApiScan *scan, PgApiStream *stream)
{
	const PgApiServerOptions *opts = scan->spec->opts;
	int64		size;

	if (scan->res->paging != PGAPI_PAGING_LIMIT_OFFSET || stream->single)
		return -1;
	size = Min(opts->page_size, scan->res->max_page_size);
	if (scan->spec->limit >= 0)
		size = Min(size, scan->spec->limit - stream->fetched);
	return Max(size, 1);
}

/*
 * pgapi_describe_requests
 *		The request lines EXPLAIN prints: known values written out, values
 *		known only at execution as "{column}".  No host, no secret.
 */
List *
pgapi_describe_requests(const PgApiResourceDesc *res,
						const PgApiServerOptions *opts,
						const char *const *known, const bool *constrained,
						const char *sort_by, bool sort_desc, int64 limit,
						bool fanout, const char *selection)
{
	List	   *lines = NIL;
	const char **texts = palloc0(sizeof(char *) * res->ncolumns);
	const char *org = opts->organization_id;
	const char *template = res->path;
	StringInfoData buf;
	int64		first_limit = -1;

	for (int i = 0; i < res->ncolumns; i++)
	{
		const PgApiColumnDesc *col = &res->columns[i];

		if (known[i])
			texts[i] = known[i];
		else if (constrained[i] ||
				 (col->flags & (PGAPI_COL_WINDOW_FROM | PGAPI_COL_WINDOW_TO |
								PGAPI_COL_BUCKET)))
			texts[i] = psprintf("{%s}", col->name);
		if ((col->flags & PGAPI_COL_ID) && constrained[i] && res->single_path)
			template = res->single_path;
	}

	if (fanout)
	{
		const PgApiResourceDesc *src = pgapi_find_resource(res->fanout_resource);

		if (src->gql_field)
			lines = lappend(lines, psprintf("POST %s { %s }", src->gql_field,
											pgapi_default_field(res->fanout_column)));
		else
			lines = lappend(lines, psprintf("GET %s",
											pgapi_fill_path(src->path, NULL, src, org)));
	}
	if (res->gql_field)
		return lappend(lines, pgapi_graphql_describe(res, selection, texts, constrained));

	if (res->paging == PGAPI_PAGING_LIMIT_OFFSET && template == res->path)
	{
		first_limit = Min(opts->page_size, res->max_page_size);
		if (limit >= 0)
			first_limit = Min(first_limit, Max(limit, 1));
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, "GET %s", pgapi_fill_path(template, texts, res, org));
	if (template == res->path)
		append_query(&buf, res, texts, sort_by, sort_desc, first_limit, 0);
	lines = lappend(lines, buf.data);
	return lines;
}

/*
 * pgapi_window_defaults
 *		Fill the window of a resource that has one: DESIGN.md
 *		"Clarifications, Windows".  Errors on an empty window before any
 *		request is made.
 */
void
pgapi_window_defaults(PgApiScanSpec *spec)
{
	const PgApiResourceDesc *res = spec->res;
	int			from_idx = -1;
	int			to_idx = -1;
	TimestampTz from;
	TimestampTz to;
	PgApiParamValue *v;

	for (int i = 0; i < res->ncolumns; i++)
	{
		if (res->columns[i].flags & PGAPI_COL_WINDOW_FROM)
			from_idx = i;
		if (res->columns[i].flags & PGAPI_COL_WINDOW_TO)
			to_idx = i;
	}
	if (from_idx < 0 || to_idx < 0)
		return;
	/* "from_date = NULL": no rows, nothing to fill */
	if ((spec->constrained[from_idx] && spec->params[from_idx] == NIL) ||
		(spec->constrained[to_idx] && spec->params[to_idx] == NIL))
		return;

	if (spec->constrained[to_idx])
		to = DatumGetTimestampTz(((PgApiParamValue *) linitial(spec->params[to_idx]))->datum);
	else
		to = GetCurrentTransactionStartTimestamp();
	to = pgapi_truncate_ms(to);

	if (spec->constrained[from_idx])
		from = DatumGetTimestampTz(((PgApiParamValue *) linitial(spec->params[from_idx]))->datum);
	else
		from = to - spec->opts->default_window_ms * INT64CONST(1000);
	from = pgapi_truncate_ms(from);

	if (from >= to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("empty time window for foreign table \"%s\"", spec->relname),
				 errdetail("%s (%s) must be earlier than %s (%s).",
						   res->columns[from_idx].name,
						   DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(from))),
						   res->columns[to_idx].name,
						   DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(to))))));

	v = palloc(sizeof(PgApiParamValue));
	v->datum = TimestampTzGetDatum(from);
	v->text = pgapi_format_value(v->datum, TIMESTAMPTZOID,
								 res->columns[from_idx].format,
								 res->columns[from_idx].name, spec->relname);
	spec->params[from_idx] = list_make1(v);
	spec->constrained[from_idx] = true;

	v = palloc(sizeof(PgApiParamValue));
	v->datum = TimestampTzGetDatum(to);
	v->text = pgapi_format_value(v->datum, TIMESTAMPTZOID,
								 res->columns[to_idx].format,
								 res->columns[to_idx].name, spec->relname);
	spec->params[to_idx] = list_make1(v);
	spec->constrained[to_idx] = true;

	/*
	 * A PGAPI_COL_BUCKET column not given (postgres_metrics'
	 * bucket_size_seconds) gets the smallest whole number of seconds that
	 * keeps the window within PGAPI_METRICS_MAX_POINTS points (DESIGN.md
	 * "Clarifications, Metrics"); it is sent and echoed like a given one.
	 */
	for (int i = 0; i < res->ncolumns; i++)
	{
		int64		window_ms = (to - from) / 1000;
		int64		points_ms = INT64CONST(1000) * PGAPI_METRICS_MAX_POINTS;
		int64		bucket;

		if (!(res->columns[i].flags & PGAPI_COL_BUCKET) || spec->constrained[i])
			continue;
		bucket = Max((window_ms + points_ms - 1) / points_ms, 1);
		if (bucket > PG_INT32_MAX)
			bucket = PG_INT32_MAX;
		v = palloc(sizeof(PgApiParamValue));
		v->datum = Int32GetDatum((int32) bucket);
		v->text = pgapi_format_value(v->datum, INT4OID, res->columns[i].format,
									 res->columns[i].name, spec->relname);
		spec->params[i] = list_make1(v);
		spec->constrained[i] = true;
	}
}

static void
bad_reply(PgApiRequest *req, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
			 errmsg("unexpected response from the API"),
			 errdetail("%s", detail),
			 errcontext("remote request: %s %s", pgapi_method_name(req->method),
						req->label ? req->label : req->path)));
}

/*
 * The values of a fan-out (DESIGN.md "Fan-out"): list the parent objects
 * with one request (the services of the organization, the servers of a
 * pganalyze account) and return their ids as parameter values.
 */
static List *
list_fanout_values(PgApiScan *scan, const PgApiColumnDesc *target)
{
	const PgApiResourceDesc *src = pgapi_find_resource(scan->res->fanout_resource);
	const PgApiColumnDesc *col = pgapi_find_column(src, scan->res->fanout_column);
	const char *field = col->field ? col->field : pgapi_default_field(col->name);
	PgApiRequest *req;
	PgApiJsonDoc *doc;
	PgApiJsonValue rows;
	List	   *ids = NIL;

	if (src->gql_field)
	{
		char	   *selection = pgapi_graphql_selection(src, &field, &col->level, NULL, 1);

		req = pgapi_request_new(CurrentMemoryContext, PGAPI_POST, "");
		req->idempotent = true;
		req->label = src->gql_field;
		req->body = pgapi_graphql_document(src, selection, NULL, NULL, 1, &req->body_len);
		pgapi_http_execute(scan->conn, req, scan->stats);
		doc = parse_response(req);
		rows = pgapi_graphql_data(req, doc, 0);
	}
	else
	{
		req = pgapi_request_new(CurrentMemoryContext, PGAPI_GET,
								pgapi_fill_path(src->path, NULL, src,
												scan->organization_id));
		pgapi_http_execute(scan->conn, req, scan->stats);
		doc = parse_response(req);
		rows = pgapi_rest_result(req, doc, false);
	}
	if (pgapi_json_type(rows) == PGAPI_JSON_NULL)
		return NIL;
	if (pgapi_json_type(rows) != PGAPI_JSON_ARRAY)
		bad_reply(req, "The list of parent objects is not an array.");

	for (int i = 0; i < pgapi_json_array_length(rows); i++)
	{
		char	   *id = pgapi_json_scalar_text(pgapi_json_get(pgapi_json_array_get(rows, i), field));
		PgApiParamValue *v;

		if (id == NULL)
			continue;
		v = palloc(sizeof(PgApiParamValue));
		v->datum = CStringGetTextDatum(id);
		v->text = pgapi_format_value(v->datum, TEXTOID, target->format,
									 target->name, scan->spec->relname);
		ids = lappend(ids, v);
	}
	return ids;
}

/* A FANOUT_ALT column given replaces the fan-out (issues by database). */
static bool
fanout_replaced(PgApiScanSpec *spec)
{
	for (int i = 0; i < spec->res->ncolumns; i++)
		if ((spec->res->columns[i].flags & PGAPI_COL_FANOUT_ALT) &&
			spec->constrained[i])
			return true;
	return false;
}

/*
 * Build the streams: the cross product of every constrained column's
 * values.  A constrained column without values ("= NULL") means no rows.
 */
static void
build_streams(PgApiScan *scan)
{
	PgApiScanSpec *spec = scan->spec;
	const PgApiResourceDesc *res = scan->res;
	List	  **values = palloc0(sizeof(List *) * res->ncolumns);
	List	   *assigns;
	bool		single = false;

	/* a join gives whole assignments; without any, there are no rows */
	if (spec->tuple_cols && spec->tuples == NIL)
		return;
	for (int i = 0; spec->tuple_cols && i < res->ncolumns; i++)
		if (spec->tuple_cols[i] && (res->columns[i].flags & PGAPI_COL_ID) &&
			res->single_path)
			single = true;

	for (int i = 0; i < res->ncolumns; i++)
	{
		const PgApiColumnDesc *col = &res->columns[i];

		if (spec->tuple_cols && spec->tuple_cols[i])
			continue;
		if (spec->constrained[i])
		{
			if (spec->params[i] == NIL)
				return;			/* no rows at all */
			values[i] = spec->params[i];
			if ((col->flags & PGAPI_COL_ID) && res->single_path)
				single = true;
		}
		else if ((col->flags & PGAPI_COL_FANOUT) && !fanout_replaced(spec))
		{
			values[i] = list_fanout_values(scan, col);
			if (values[i] == NIL)
				return;
		}
		else if (col->flags & PGAPI_COL_REQUIRED)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
					 errmsg("foreign table \"%s\" needs a value for column \"%s\"",
							spec->relname, col->name)));
	}

	/* cross product, in descriptor order, of the join's assignments */
	if (spec->tuple_cols)
		assigns = spec->tuples;
	else
		assigns = list_make1(palloc0(sizeof(PgApiParamValue *) * res->ncolumns));
	for (int i = 0; i < res->ncolumns; i++)
	{
		List	   *next = NIL;
		ListCell   *la;

		/* a GraphQL list argument sends all its values at once */
		if (values[i] == NIL || (res->columns[i].flags & PGAPI_COL_GQL_LIST))
			continue;
		foreach(la, assigns)
		{
			PgApiParamValue **a = lfirst(la);
			ListCell   *lv;

			foreach(lv, values[i])
			{
				PgApiParamValue **b = palloc(sizeof(PgApiParamValue *) * res->ncolumns);

				memcpy(b, a, sizeof(PgApiParamValue *) * res->ncolumns);
				b[i] = lfirst(lv);
				next = lappend(next, b);
			}
		}
		assigns = next;
	}

	{
		ListCell   *la;

		foreach(la, assigns)
		{
			PgApiStream *s = palloc0(sizeof(PgApiStream));

			s->assign = lfirst(la);
			s->single = single;
			scan->streams = lappend(scan->streams, s);
		}
	}
}

/* Does a stream's path carry a value from the query (a service id)? */
static bool
names_object(const PgApiResourceDesc *res, PgApiStream *stream)
{
	for (int i = 0; i < res->ncolumns; i++)
		if (res->columns[i].loc == PGAPI_LOC_PATH && stream->assign[i])
			return true;
	return false;
}

/*
 * The request of a fetch: the next page of one stream (REST), or one
 * document for a batch of streams (GraphQL).  It lives in its own memory
 * context, which will also hold the parsed response.
 */
static PgApiRequest *
make_request(PgApiScan *scan, PgApiFetch *fetch)
{
	const PgApiResourceDesc *res = scan->res;
	const char ***texts = palloc0(sizeof(char **) * fetch->nstreams);
	MemoryContext cxt;
	MemoryContext oldcxt;
	PgApiRequest *req;

	cxt = AllocSetContextCreate(scan->cxt, "pgapi_fdw page", ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	for (int s = 0; s < fetch->nstreams; s++)
	{
		texts[s] = palloc0(sizeof(char *) * res->ncolumns);
		for (int i = 0; i < res->ncolumns; i++)
			if (fetch->streams[s]->assign[i])
				texts[s][i] = fetch->streams[s]->assign[i]->text;
	}

	if (res->gql_field)
	{
		req = pgapi_request_new(cxt, PGAPI_POST, "");
		req->idempotent = true;
		req->label = res->gql_field;
		req->body = pgapi_graphql_document(res, scan->selection,
										   (const char *const *const *) texts,
										   scan->spec->params, fetch->nstreams,
										   &req->body_len);
	}
	else
	{
		PgApiStream *stream = fetch->streams[0];
		StringInfoData buf;

		initStringInfo(&buf);
		if (stream->single)
			appendStringInfoString(&buf, pgapi_fill_path(res->single_path, texts[0], res,
														 scan->organization_id));
		else
		{
			appendStringInfoString(&buf, pgapi_fill_path(res->path, texts[0], res,
														 scan->organization_id));
			append_query(&buf, res, texts[0], scan->spec->sort_by,
						 scan->spec->sort_desc, page_limit(scan, stream),
						 stream->offset);
		}
		req = pgapi_request_new(cxt, PGAPI_GET, buf.data);
		req->expect_text = (res->body == PGAPI_BODY_PROMETHEUS);

		/*
		 * A 404 for an object the query named (a service deleted meanwhile,
		 * an unknown id) means no rows (DESIGN.md); for a list under the
		 * organization of the server's options it is an error.
		 */
		req->allow_404 = stream->single || names_object(res, stream);
	}
	req->caller_arg = fetch;
	MemoryContextSwitchTo(oldcxt);
	scan->pages_requested++;
	return req;
}

static PgApiFetch *
make_fetch(PgApiStream **streams, int n)
{
	PgApiFetch *fetch = palloc(sizeof(PgApiFetch));

	fetch->nstreams = n;
	fetch->streams = palloc(sizeof(PgApiStream *) * n);
	memcpy(fetch->streams, streams, sizeof(PgApiStream *) * n);
	return fetch;
}

/*
 * Keep the queue max_concurrency requests ahead with new streams; GraphQL
 * streams go out PGAPI_GQL_BATCH to a document.
 */
static void
fill_queue(PgApiScan *scan)
{
	int			batch = scan->res->gql_field ? PGAPI_GQL_BATCH : 1;

	while (scan->next_stream < list_length(scan->streams) &&
		   pgapi_queue_pending(scan->queue) < scan->spec->opts->max_concurrency)
	{
		PgApiStream *chunk[PGAPI_GQL_BATCH];
		int			n = 0;

		while (n < batch && scan->next_stream < list_length(scan->streams))
			chunk[n++] = list_nth(scan->streams, scan->next_stream++);
		pgapi_queue_add(scan->queue, make_request(scan, make_fetch(chunk, n)));
	}
}

/* Position the iterator on its first row at or below level lvl. */
static bool
iter_descend(PgApiScan *scan, PgApiRequest *req, PgApiRowIter *it, int lvl,
			 PgApiJsonValue v)
{
	for (;;)
	{
		const PgApiRowStep *step = &scan->res->steps[lvl];
		PgApiJsonType t;

		if (step->member)
			v = pgapi_json_get(v, step->member);
		t = pgapi_json_type(v);
		it->container[lvl] = v;
		it->index[lvl] = 0;
		it->entries[lvl] = step->entries;
		it->single[lvl] = false;
		if (t == PGAPI_JSON_NULL)
			it->count[lvl] = 0;
		else if (step->entries)
		{
			if (t != PGAPI_JSON_OBJECT)
				bad_reply(req, "Expected a JSON object of rows.");
			it->count[lvl] = pgapi_json_object_length(v);
		}
		else if (t == PGAPI_JSON_ARRAY)
			it->count[lvl] = pgapi_json_array_length(v);
		else if (t == PGAPI_JSON_OBJECT)
		{
			it->count[lvl] = 1;
			it->single[lvl] = true;
		}
		else
			bad_reply(req, "Expected a JSON array of rows.");

		/* find the first element with rows below it */
		while (it->index[lvl] < it->count[lvl])
		{
			if (it->single[lvl])
			{
				it->elem[lvl] = v;
				it->key[lvl] = NULL;
			}
			else if (it->entries[lvl])
				it->elem[lvl] = pgapi_json_object_entry(v, it->index[lvl], &it->key[lvl]);
			else
			{
				it->elem[lvl] = pgapi_json_array_get(v, it->index[lvl]);
				it->key[lvl] = NULL;
			}
			if (lvl == it->nlevels - 1)
				return true;
			if (iter_descend(scan, req, it, lvl + 1, it->elem[lvl]))
				return true;
			it->index[lvl]++;
		}
		return false;
	}
}

/* Advance to the next row; false at the end of the page. */
static bool
iter_next(PgApiScan *scan, PgApiRequest *req, PgApiRowIter *it)
{
	for (int lvl = it->nlevels - 1; lvl >= 0; lvl--)
	{
		PgApiJsonValue v = it->container[lvl];

		while (++it->index[lvl] < it->count[lvl])
		{
			if (it->entries[lvl])
				it->elem[lvl] = pgapi_json_object_entry(v, it->index[lvl], &it->key[lvl]);
			else
				it->elem[lvl] = pgapi_json_array_get(v, it->index[lvl]);
			if (lvl == it->nlevels - 1)
				return true;
			if (iter_descend(scan, req, it, lvl + 1, it->elem[lvl]))
				return true;
		}
	}
	return false;
}

/*
 * For list pages that lack DETAIL columns: fetch each row's object with the
 * one-object GET, concurrently, before the rows are emitted.
 */
static void
fetch_details(PgApiScan *scan, PgApiRequest *page)
{
	const PgApiResourceDesc *res = scan->res;
	PgApiRowIter it = scan->iter;
	int			n = scan->iter.count[0];	/* rows of the page */
	PgApiRequest **reqs = palloc0(sizeof(PgApiRequest *) * Max(n, 1));
	const char **texts = palloc0(sizeof(char *) * res->ncolumns);
	const char *idfield = res->columns[scan->id_colidx].field ?
		res->columns[scan->id_colidx].field :
		pgapi_default_field(res->columns[scan->id_colidx].name);
	int			nreqs = 0;
	bool		have = scan->have_row;

	scan->details = palloc0(sizeof(PgApiJsonValue) * Max(n, 1));
	while (have)
	{
		char	   *id = pgapi_json_scalar_text(pgapi_json_get(it.elem[0], idfield));
		PgApiParamValue v;

		if (id == NULL)
			bad_reply(page, "A row has no id.");
		v.datum = CStringGetTextDatum(id);
		texts[scan->id_colidx] = pgapi_format_value(v.datum, TEXTOID, PGAPI_FMT_ID,
													res->columns[scan->id_colidx].name,
													scan->spec->relname);
		reqs[nreqs] = pgapi_request_new(CurrentMemoryContext, PGAPI_GET,
										pgapi_fill_path(res->single_path, texts, res,
														scan->organization_id));
		reqs[nreqs]->allow_404 = true;
		nreqs++;
		have = iter_next(scan, page, &it);
	}
	if (nreqs == 0)
		return;

	pgapi_http_run(scan->conn, reqs, nreqs, scan->stats);
	for (int i = 0; i < nreqs; i++)
	{
		if (reqs[i]->status == 404)
			scan->details[i] = NULL;	/* deleted meanwhile: no row */
		else
			scan->details[i] = pgapi_rest_result(reqs[i],
												 parse_response(reqs[i]),
												 false);
	}
}

/*
 * Remember the mark of a full page of a stream (rows: the JSON text of its
 * rows, or the whole body when that is not known); ERROR if an earlier page
 * of the stream had the same mark: the API returned rows it had returned
 * already, so paging would repeat them, or cycle, until max_pages
 * (RELIABILITY B10: the same page forever, A->B->A, an ignored offset).
 *
 * Only the first and last PGAPI_MARK_BYTES bytes of the rows are hashed:
 * hashing every byte of every page cost 2% of a bulk scan.  Distinct pages
 * of a limit/offset listing hold different rows, so for two of them to
 * share a mark they must have the same row count and text length and
 * byte-identical runs of rows at both ends (a few rows each), which only
 * data made of repeated rows gives; and the 64-bit hash makes a collision
 * negligible.  The envelope is always left out, so a response id that
 * changes with every response does not hide a repeated page: rows is the
 * text of the rows (from the tape), or NULL when there is no tape, and then
 * the json-c payload's text is hashed whole.  Every earlier full page of
 * the stream is compared, so cycles are caught too.
 */
static void
check_page_mark(PgApiScan *scan, PgApiRequest *req, PgApiStream *stream,
				int64 nrows, const char *rows, size_t len,
				PgApiJsonValue payload)
{
	PgApiPageMark mark;
	size_t		head = Min(len, (size_t) PGAPI_MARK_BYTES);
	size_t		tail = Min(len - head, (size_t) PGAPI_MARK_BYTES);
	PgApiPageMarkEntry *entry;
	bool		found;

	memset(&mark, 0, sizeof(mark));
	mark.stream = stream;
	mark.nrows = nrows;
	if (rows == NULL)
	{
		/* no text: a hash of all of the rows as json-c prints them */
		mark.len = 0;
		mark.hash = pgapi_json_hash(payload);
	}
	else
	{
		mark.len = len;
		mark.hash = hash_bytes_extended((const unsigned char *) rows, (int) head, 0);
		if (tail > 0)
			mark.hash = hash_bytes_extended((const unsigned char *) rows + len - tail,
											(int) tail, mark.hash);
	}

	if (scan->page_marks == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(PgApiPageMark);
		ctl.entrysize = sizeof(PgApiPageMarkEntry);
		ctl.hcxt = scan->cxt;
		scan->page_marks = hash_create("pgapi_fdw page marks", 64, &ctl,
									   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	stream->npages++;
	entry = hash_search(scan->page_marks, &mark, HASH_ENTER, &found);
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("pagination did not advance for foreign table \"%s\"",
						scan->spec->relname),
				 errdetail("Page %d has the same rows as page %d: the API ignores the offset, or its pages repeat.",
						   stream->npages, entry->page),
				 errcontext("remote request: GET %s", req->path)));
	entry->page = stream->npages;
}

/*
 * Paging after a page of a REST stream arrived: request the next page at
 * once when this one was full (so it is on the wire while this one is
 * read); otherwise the stream is done.  Guards against an API that does not
 * advance (check_page_mark; rows/len/payload as there) and against
 * max_pages.
 */
static void
continue_paging(PgApiScan *scan, PgApiRequest *req, PgApiStream *stream,
				int64 nrows, const char *rows, size_t len,
				PgApiJsonValue payload)
{
	int64		asked = page_limit(scan, stream);
	MemoryContext oldcxt;

	if (asked <= 0)
		return;					/* the resource does not page */

	if (nrows > asked)
		bad_reply(req, "The API returned more rows than the page size asked for.");
	if (nrows == asked)
		check_page_mark(scan, req, stream, nrows, rows, len, payload);
	stream->fetched += nrows;
	stream->offset += nrows;

	if (nrows < asked ||
		(scan->spec->limit >= 0 && stream->fetched >= scan->spec->limit))
		return;					/* the stream is done */
	if (scan->pages_requested >= scan->spec->opts->max_pages)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("foreign table \"%s\" needs more than max_pages (%d) pages",
						scan->spec->relname, scan->spec->opts->max_pages),
				 errdetail("Rows are never silently truncated."),
				 errhint("Narrow the query with WHERE or LIMIT, or raise the server option max_pages.")));
	pgapi_queue_add(scan->queue, make_request(scan, make_fetch(&stream, 1)));
	/* send it now: the API prepares it while this page becomes rows */
	oldcxt = MemoryContextSwitchTo(scan->cxt);
	pgapi_queue_poll(scan->queue);
	MemoryContextSwitchTo(oldcxt);
}

/* The "result" of a tape whose document is an object, or 0. */
static uint32
tape_result(const PgApiTape *t)
{
	if (t == NULL || t->escaped_keys || t->nodes[0].type != PGAPI_TAPE_OBJECT)
		return 0;
	return pgapi_tape_member(t, 0, "result", 6);
}

/*
 * Position the row iterator on the first row of the current response's
 * payload scan->payload_idx, or of a later one.  False when the response
 * has no more rows.  rows/len: the JSON text of the rows when known (from
 * a tape the tape path did not take), for their mark; NULL: json-c prints
 * them.
 */
static bool
start_payload(PgApiScan *scan, const char *rows, size_t len)
{
	PgApiRequest *req = scan->page_req;
	PgApiFetch *fetch = scan->page_fetch;

	for (; scan->payload_idx < fetch->nstreams; scan->payload_idx++)
	{
		PgApiStream *stream = fetch->streams[scan->payload_idx];
		PgApiJsonValue payload;

		if (scan->res->gql_field)
			payload = pgapi_graphql_data(req, scan->page_doc, scan->payload_idx);
		else
			payload = pgapi_rest_result(req, scan->page_doc, false);

		memset(&scan->iter, 0, sizeof(PgApiRowIter));
		scan->iter.nlevels = scan->res->nsteps;
		scan->page_stream = stream;
		scan->have_row = iter_descend(scan, req, &scan->iter, 0, payload);

		if (!scan->res->gql_field)
		{
			/*
			 * The rows' text, never the whole body: its requestId differs
			 * between responses with the same rows (B10).  Without a tape,
			 * the hash of the rows as json-c prints them.
			 */
			continue_paging(scan, req, stream, scan->iter.count[0], rows, len,
							payload);
		}

		if (scan->have_row)
		{
			if (scan->need_detail && !stream->single)
				fetch_details(scan, req);
			scan->row_number = 0;
			return true;
		}
	}
	return false;
}

/*
 * Make the current response a page read from its tape, t, when the tape
 * path reads it exactly as start_payload would read the json-c tree: a
 * ClickHouse envelope (an object, no "error", no "status" >= 400) whose
 * "result" is an array of objects (the rows) or one object (one row).
 * Anything else, errors included, returns false without side effects,
 * and goes to parse_response and start_payload.  On success *found tells
 * whether the page has a row.
 */
static bool
start_tape_payload(PgApiScan *scan, PgApiRequest *req, PgApiTape *t,
				   bool *found)
{
	const PgApiTapeNode *nodes = t->nodes;
	PgApiStream *stream = scan->page_fetch->streams[0];
	uint32		result = tape_result(t);
	uint32		v;
	uint32		first;
	int64		nrows;
	uint32		maxmembers = 0;

	if (result == 0 || scan->page_fetch->nstreams != 1)
		return false;
	v = pgapi_tape_member(t, 0, "error", 5);
	if (v != 0 && nodes[v].type != PGAPI_TAPE_NULL)
		return false;
	v = pgapi_tape_member(t, 0, "status", 6);
	if (v != 0 && nodes[v].type == PGAPI_TAPE_INT)
	{
		/* as strtol of its text; a long one is pgapi_rest_result's to judge */
		if (nodes[v].len > 4 || strtol(t->data + nodes[v].start, NULL, 10) >= 400)
			return false;
	}

	if (nodes[result].type == PGAPI_TAPE_ARRAY)
	{
		uint32		e = result + 1;

		nrows = nodes[result].count;
		first = e;
		for (int64 i = 0; i < nrows; i++)
		{
			if (nodes[e].type != PGAPI_TAPE_OBJECT)
				return false;
			maxmembers = Max(maxmembers, nodes[e].count);
			e = nodes[e].next;
		}
	}
	else if (nodes[result].type == PGAPI_TAPE_OBJECT)
	{
		nrows = 1;
		first = result;
		maxmembers = nodes[result].count;
	}
	else
		return false;

	/* room to remember the key at each member position */
	if (maxmembers > scan->npred)
	{
		uint32		n = Max(maxmembers, 2 * scan->npred);

		if (scan->tkey_pred)
			scan->tkey_pred = repalloc(scan->tkey_pred, sizeof(int) * n);
		else
			scan->tkey_pred = MemoryContextAlloc(scan->cxt, sizeof(int) * n);
		for (uint32 i = scan->npred; i < n; i++)
			scan->tkey_pred[i] = -1;
		scan->npred = n;
	}

	/* the differential test (src/test/tape_diff.py) counts these */
	elog(DEBUG2, "pgapi_fdw: page of " INT64_FORMAT " rows read from its tape",
		 nrows);
	scan->page_tape = t;
	scan->page_stream = stream;
	continue_paging(scan, req, stream, nrows, t->data + nodes[result].start,
					nodes[result].len, NULL);
	scan->tape_row = first;
	scan->tape_rows_left = nrows - 1;
	scan->have_row = (nrows > 0);
	scan->row_number = 0;
	*found = scan->have_row;
	return true;
}

/*
 * Make the next response with rows the current page: the rest of the
 * current response's payloads first, then the queue.  Returns false when
 * there is nothing left.  Runs in the scan context; each response's data
 * lives in its own context, deleted when its rows are out.
 */
static bool
next_page(PgApiScan *scan)
{
	MemoryContext oldcxt;

	/* further payloads of the response being read */
	if (scan->page_req && scan->payload_idx + 1 < scan->page_fetch->nstreams)
	{
		bool		found;

		scan->payload_idx++;
		oldcxt = MemoryContextSwitchTo(scan->page_cxt);
		found = start_payload(scan, NULL, 0);
		MemoryContextSwitchTo(oldcxt);
		if (found)
			return true;
	}

	for (;;)
	{
		PgApiRequest *req;
		PgApiTape  *tape;
		bool		found;

		if (scan->page_cxt)
			MemoryContextDelete(scan->page_cxt);
		scan->page_cxt = NULL;
		scan->page_req = NULL;
		scan->page_doc = NULL;
		scan->page_tape = NULL;
		scan->details = NULL;

		fill_queue(scan);
		req = pgapi_queue_next(scan->queue);
		if (req == NULL)
			return false;
		scan->page_cxt = GetMemoryChunkContext(req);
		scan->page_req = req;
		scan->page_fetch = (PgApiFetch *) req->caller_arg;
		scan->payload_idx = 0;
		scan->stats->pages++;

		/* 404: the stream's object is gone; no rows, no further page */
		if (req->status == 404)
			continue;

		oldcxt = MemoryContextSwitchTo(scan->page_cxt);
		tape = scan->use_tape ? parse_response_tape(req) : NULL;
		if (tape == NULL || !start_tape_payload(scan, req, tape, &found))
		{
			uint32		result = tape_result(tape);
			const char *rows = NULL;
			size_t		len = 0;

			if (result != 0)
			{
				rows = tape->data + tape->nodes[result].start;
				len = tape->nodes[result].len;
			}
			/* gone before json-c builds its tree: never both in memory */
			if (tape)
			{
				pfree(tape->nodes);
				pfree(tape);
			}
			scan->page_doc = parse_response(req);
			found = start_payload(scan, rows, len);
		}
		MemoryContextSwitchTo(oldcxt);
		if (found)
			return true;
	}
}

static void
conversion_error_callback(void *arg)
{
	PgApiScan  *scan = (PgApiScan *) arg;

	const char *field;

	if (scan->cur_attnum <= 0)
		return;
	field = scan->spec->attfield[scan->cur_attnum - 1];
	if (field && field[0] != '$')
		errcontext("column \"%s\" of foreign table \"%s\", JSON field \"%s\"",
				   NameStr(TupleDescAttr(scan->spec->tupdesc, scan->cur_attnum - 1)->attname),
				   scan->spec->relname, field);
	else
		errcontext("column \"%s\" of foreign table \"%s\"",
				   NameStr(TupleDescAttr(scan->spec->tupdesc, scan->cur_attnum - 1)->attname),
				   scan->spec->relname);
}

/*
 * A NOT NULL column got no value: the API sent null or left the field out.
 * PostgreSQL does not check constraints of foreign tables, so a required
 * field is declared NOT NULL and checked here (RELIABILITY B5): an ERROR
 * naming column, table and JSON field (the error context), never a NULL.
 */
static void
not_null_error(PgApiScan *scan, int a)
{
	const char *field = scan->spec->attfield[a];

	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg("null value in column \"%s\" of foreign table \"%s\" violates not-null constraint",
					NameStr(TupleDescAttr(scan->spec->tupdesc, a)->attname),
					scan->spec->relname),
			 field ?
			 errdetail("The API response has null or no value for JSON field \"%s\".", field) :
			 errdetail("The API response has no value for the column.")));
}

/* Convert the text of a "$key" (or a mapped value) with the input function. */
static Datum
text_to_datum(PgApiColumnConv *conv, const char *text)
{
	return InputFunctionCall(&conv->inflinfo, (char *) text, conv->typioparam,
							 conv->typmod);
}

static const char *
map_value(const PgApiColumnDesc *col, const char *key)
{
	if (col == NULL || col->value_map == NULL || key == NULL)
		return key;
	for (const char *const *m = col->value_map; m[0] && m[1]; m += 2)
		if (strcmp(m[0], key) == 0)
			return m[1];
	return key;
}

/* Fill values/isnull from the current row. */
static void
build_row(PgApiScan *scan, Datum *values, bool *isnull)
{
	PgApiScanSpec *spec = scan->spec;
	const PgApiResourceDesc *res = scan->res;
	PgApiRowIter *it = &scan->iter;
	PgApiStream *stream = scan->page_stream;
	int			natts = spec->tupdesc->natts;
	ErrorContextCallback errcallback;

	errcallback.callback = conversion_error_callback;
	errcallback.arg = scan;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (int a = 0; a < natts; a++)
	{
		int			colidx = spec->attcol[a];
		const PgApiColumnDesc *col = colidx >= 0 ? &res->columns[colidx] : NULL;
		const char *field = spec->attfield[a];
		int			lvl;
		PgApiJsonValue elem;

		values[a] = (Datum) 0;
		isnull[a] = true;
		if (!spec->attneeded[a])
			continue;
		scan->cur_attnum = a + 1;

		if (col && (col->flags & PGAPI_COL_ECHO))
		{
			PgApiParamValue *v = stream->assign[colidx];

			if (v)
			{
				values[a] = v->datum;
				isnull[a] = false;
			}
			continue;
		}

		lvl = it->nlevels - 1 - (col ? col->level : 0);
		if (lvl < 0)
			lvl = 0;
		elem = it->elem[lvl];
		if (col && (col->flags & PGAPI_COL_DETAIL) && scan->details)
			elem = scan->details[scan->row_number];

		if (field && field[0] == '$' && strcmp(field, "$key") == 0)
		{
			const char *key = map_value(col, it->key[lvl]);

			if (key)
			{
				values[a] = text_to_datum(&scan->convs[a], key);
				isnull[a] = false;
			}
			continue;
		}
		if (field && field[0] == '$' && strcmp(field, "$value") == 0)
		{
			values[a] = pgapi_json_to_datum(elem, &scan->convs[a], &isnull[a]);
			if (isnull[a] && scan->notnull[a])
				not_null_error(scan, a);
			continue;
		}
		values[a] = pgapi_json_to_datum(pgapi_json_get_path(elem, scan->paths[a]),
										&scan->convs[a], &isnull[a]);
		if (isnull[a] && scan->notnull[a])
			not_null_error(scan, a);
	}

	scan->cur_attnum = 0;
	error_context_stack = errcallback.previous;
}

/*
 * Fill values/isnull from the current row of a tape page: build_row's
 * result for the same row, without a json-c tree.
 */
static void
build_row_tape(PgApiScan *scan, Datum *values, bool *isnull)
{
	PgApiScanSpec *spec = scan->spec;
	const PgApiTape *t = scan->page_tape;
	const PgApiTapeNode *nodes = t->nodes;
	uint32		row = scan->tape_row;
	int			natts = spec->tupdesc->natts;
	ErrorContextCallback errcallback;

	/*
	 * Each wanted member's value node, in one walk over the row's members;
	 * rows of a page usually list their members in the same order, so the
	 * key found at a position in the previous row is tried first.  A
	 * repeated key keeps its last value, as json-c does.
	 */
	if (scan->ntkeys > 0)
	{
		uint32		k = row + 1;

		memset(scan->tkey_node, 0, sizeof(uint32) * scan->ntkeys);
		for (uint32 m = 0; m < nodes[row].count; m++)
		{
			const char *key = t->data + nodes[k].start + 1;
			size_t		keylen = nodes[k].len - 2;
			int			j = scan->tkey_pred[m];

			if (j < 0 || scan->tkeylen[j] != keylen ||
				memcmp(scan->tkey[j], key, keylen) != 0)
			{
				for (j = 0; j < scan->ntkeys; j++)
					if (scan->tkeylen[j] == keylen &&
						memcmp(scan->tkey[j], key, keylen) == 0)
						break;
				if (j == scan->ntkeys)
					j = -1;
				scan->tkey_pred[m] = j;
			}
			if (j >= 0)
				scan->tkey_node[j] = k + 1;
			k = nodes[k + 1].next;
		}
	}

	errcallback.callback = conversion_error_callback;
	errcallback.arg = scan;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (int a = 0; a < natts; a++)
	{
		uint32		node;

		values[a] = (Datum) 0;
		isnull[a] = true;
		if (!spec->attneeded[a])
			continue;
		scan->cur_attnum = a + 1;

		if (scan->att_tkey[a] < 0)
		{
			/* an echoed parameter (see tape_setup) */
			PgApiParamValue *v = scan->page_stream->assign[spec->attcol[a]];

			if (v)
			{
				values[a] = v->datum;
				isnull[a] = false;
			}
			continue;
		}
		node = scan->tkey_node[scan->att_tkey[a]];
		if (node != 0 && scan->att_nsegs[a] > 1)
			node = pgapi_json_tape_get_path(t, node, scan->paths[a], 1);
		if (node != 0)
			values[a] = pgapi_json_tape_to_datum(t, node, &scan->convs[a],
												 &isnull[a]);
		/* a missing member (node 0) or null: as build_row (B5) */
		if (isnull[a] && scan->notnull[a])
			not_null_error(scan, a);
	}

	scan->cur_attnum = 0;
	error_context_stack = errcallback.previous;
}

/*
 * Decide whether the scan may read pages from tapes, and set up the member
 * keys: only when every page is read the same way by build_row_tape as by
 * build_row, i.e. the rows are the elements of the payload itself (one
 * step, no member, no entries), no row needs a DETAIL fetch, and each
 * column needed is an echoed parameter or a member path (not "$key" or
 * "$value").  Whether a given page qualifies is start_tape_payload's call.
 * Allocates in CurrentMemoryContext (the scan's).
 */
static bool
tape_setup(PgApiScan *scan)
{
	PgApiScanSpec *spec = scan->spec;
	const PgApiResourceDesc *res = scan->res;
	int			natts = spec->tupdesc->natts;

	if (!pgapi_tape_parser || res->gql_field || res->body != PGAPI_BODY_JSON ||
		res->nsteps != 1 || res->steps[0].member || res->steps[0].entries ||
		scan->need_detail)
		return false;

	scan->att_tkey = palloc(sizeof(int) * natts);
	scan->att_nsegs = palloc0(sizeof(int) * natts);
	scan->tkey = palloc(sizeof(char *) * Max(natts, 1));
	scan->tkeylen = palloc(sizeof(size_t) * Max(natts, 1));
	scan->ntkeys = 0;
	for (int a = 0; a < natts; a++)
	{
		int			colidx = spec->attcol[a];
		const char *key;
		size_t		keylen;
		int			j;

		scan->att_tkey[a] = -1;
		if (!spec->attneeded[a])
			continue;
		if (colidx >= 0 && (res->columns[colidx].flags & PGAPI_COL_ECHO))
			continue;
		if (scan->paths[a] == NULL)
			return false;		/* "$key", "$value" */
		key = pgapi_json_path_first(scan->paths[a], &keylen, &scan->att_nsegs[a]);
		for (j = 0; j < scan->ntkeys; j++)
			if (scan->tkeylen[j] == keylen && memcmp(scan->tkey[j], key, keylen) == 0)
				break;
		if (j == scan->ntkeys)
		{
			scan->tkey[j] = key;
			scan->tkeylen[j] = keylen;
			scan->ntkeys++;
		}
		scan->att_tkey[a] = j;
	}
	scan->tkey_node = palloc0(sizeof(uint32) * Max(scan->ntkeys, 1));
	return true;
}

/*
 * pgapi_scan_selection
 *		The GraphQL selection set for the attributes a scan fills: their
 *		fields, at their levels.  Echoed parameters are not fields.
 */
char *
pgapi_scan_selection(const PgApiResourceDesc *res, int natts,
					 const int *attcol, char *const *attfield,
					 const bool *needed)
{
	const char **fields = palloc(sizeof(char *) * Max(natts, 1));
	const char **subselects = palloc(sizeof(char *) * Max(natts, 1));
	int		   *levels = palloc(sizeof(int) * Max(natts, 1));
	int			n = 0;

	for (int a = 0; a < natts; a++)
	{
		const PgApiColumnDesc *col = attcol[a] >= 0 ? &res->columns[attcol[a]] : NULL;

		if (!needed[a] || attfield[a] == NULL)
			continue;
		if (col && (col->flags & PGAPI_COL_ECHO))
			continue;
		fields[n] = attfield[a];
		levels[n] = col ? col->level : 0;
		subselects[n] = col ? col->gql_subselect : NULL;
		n++;
	}
	return pgapi_graphql_selection(res, fields, levels, subselects, n);
}

/*
 * pgapi_scan_begin
 *		Prepare a scan.  Makes the organization discovery and fan-out
 *		requests lazily, at the first row.  Allocates in CurrentMemoryContext,
 *		which must live as long as the scan.
 */
PgApiScan *
pgapi_scan_begin(PgApiScanSpec *spec, UserMapping *user, PgApiStats *stats)
{
	PgApiScan  *scan = palloc0(sizeof(PgApiScan));
	int			natts = spec->tupdesc->natts;

	scan->spec = spec;
	scan->res = spec->res;
	scan->stats = stats;
	scan->cxt = CurrentMemoryContext;
	scan->id_colidx = -1;
	scan->conn = pgapi_get_connection(user, spec->opts);

	if (scan->res->nsteps > PGAPI_MAX_LEVELS)
		elog(ERROR, "resource \"%s\" nests rows too deeply", scan->res->name);

	for (int i = 0; i < scan->res->ncolumns; i++)
		if (scan->res->columns[i].flags & PGAPI_COL_ID)
			scan->id_colidx = i;

	scan->paths = palloc0(sizeof(PgApiJsonPath *) * natts);
	scan->convs = palloc0(sizeof(PgApiColumnConv) * natts);
	scan->notnull = palloc0(sizeof(bool) * natts);
	for (int a = 0; a < natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(spec->tupdesc, a);
		int			colidx = spec->attcol[a];

		if (att->attisdropped || !spec->attneeded[a])
			continue;
		pgapi_json_init_conv(&scan->convs[a], att->atttypid, att->atttypmod);
		scan->notnull[a] = att->attnotnull;
		if (spec->attfield[a] && spec->attfield[a][0] != '$')
			scan->paths[a] = pgapi_json_compile_path(spec->attfield[a]);
		if (colidx >= 0 && (scan->res->columns[colidx].flags & PGAPI_COL_DETAIL) &&
			scan->res->single_path && scan->id_colidx >= 0 &&
			!spec->constrained[scan->id_colidx])
			scan->need_detail = true;
	}

	if (scan->res->gql_field)
		scan->selection = pgapi_scan_selection(scan->res, natts, spec->attcol,
											   spec->attfield, spec->attneeded);
	scan->use_tape = tape_setup(scan);

	/* window defaults (and the empty-window check) come before any request */
	pgapi_window_defaults(spec);

	/* only paths under an organization need its id */
	if (strstr(scan->res->path ? scan->res->path : "", "{organization_id}") ||
		(scan->res->fanout_resource &&
		 strstr(pgapi_find_resource(scan->res->fanout_resource)->path ?
				pgapi_find_resource(scan->res->fanout_resource)->path : "",
				"{organization_id}")))
		scan->organization_id = discover_organization(scan, user);
	build_streams(scan);
	scan->queue = pgapi_queue_create(scan->conn, stats);
	return scan;
}

/*
 * pgapi_scan_next
 *		Fill the next row; false at the end.  Conversions allocate in
 *		CurrentMemoryContext (the caller's per-tuple context).
 */
bool
pgapi_scan_next(PgApiScan *scan, Datum *values, bool *isnull)
{
	if (scan->spec->limit >= 0 && scan->emitted >= scan->spec->limit &&
		list_length(scan->streams) == 1)
		return false;

	for (;;)
	{
		if (!scan->have_row)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);
			bool		more = next_page(scan);

			MemoryContextSwitchTo(oldcxt);
			if (!more)
				return false;
		}

		/* a row whose detail GET found nothing is gone */
		if (scan->details && scan->details[scan->row_number] == NULL)
		{
			scan->have_row = iter_next(scan, scan->page_req, &scan->iter);
			scan->row_number++;
			continue;
		}

		/*
		 * Let curl take in what has arrived of the pages in flight, now and
		 * then, so that the next one is complete by the time this one is
		 * done with.  Must run in the scan context, as next_page does.
		 */
		if ((scan->row_number & (PGAPI_POLL_ROWS - 1)) == PGAPI_POLL_ROWS - 1 &&
			scan->queue)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);

			pgapi_queue_poll(scan->queue);
			MemoryContextSwitchTo(oldcxt);
		}

		if (scan->page_tape)
		{
			build_row_tape(scan, values, isnull);
			if (scan->tape_rows_left > 0)
			{
				scan->tape_row = scan->page_tape->nodes[scan->tape_row].next;
				scan->tape_rows_left--;
			}
			else
				scan->have_row = false;
		}
		else
		{
			build_row(scan, values, isnull);
			scan->have_row = iter_next(scan, scan->page_req, &scan->iter);
		}
		scan->row_number++;
		scan->emitted++;
		return true;
	}
}

/*
 * pgapi_scan_init
 *		Define the scan's GUC; from _PG_init.
 */
void
pgapi_scan_init(void)
{
	DefineCustomBoolVariable("pgapi_fdw.tape_parser",
							 "Reads pages of rows with the one-pass tape parser.",
							 "Off reads every page through a json-c tree, as before the tape parser existed; for comparisons only.",
							 &pgapi_tape_parser,
							 true,
							 PGC_USERSET,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("pgapi_fdw");
}

/*
 * pgapi_scan_end
 *		Stop in-flight requests.  Memory goes with the caller's context.
 */
void
pgapi_scan_end(PgApiScan *scan)
{
	if (scan->queue)
		pgapi_queue_close(scan->queue);
	scan->queue = NULL;
}

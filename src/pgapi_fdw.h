/*-------------------------------------------------------------------------
 *
 * pgapi_fdw.h
 *		  Shared types and declarations of pgapi_fdw.
 *
 * The extension is split by job: option.c (options and validator),
 * http.c (libcurl), headers.c (response header lines), json.c (json-c;
 * the only file that includes it), rfc3339.c (timestamps as API text),
 * resource.c plus api_*.c (resource descriptors, which are data),
 * deparse.c (quals to request parameters, EXPLAIN text), rest.c and
 * graphql.c (request building per protocol) and pgapi_fdw.c (the FDW
 * callbacks).  Externs are grouped below by the file that defines them.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/pgapi_fdw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGAPI_FDW_H
#define PGAPI_FDW_H

#include "access/tupdesc.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/palloc.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

/* Which API a server talks to. */
typedef enum PgApiKind
{
	PGAPI_CLICKHOUSE,			/* ClickHouse Cloud REST API */
	PGAPI_PGANALYZE				/* pganalyze GraphQL API */
} PgApiKind;

/* ----------------------------------------------------------------
 *		option.c
 * ----------------------------------------------------------------
 */

/*
 * Server options, read once per relation (or per connection) into this
 * typed struct.  Defaults are those of DESIGN.md.
 */
typedef struct PgApiServerOptions
{
	Oid			serverid;
	PgApiKind	api;
	char	   *url;			/* base URL without trailing slash */
	char	   *ca_file;		/* PEM bundle of trusted CAs; NULL: system's */
	char	   *organization_id;	/* NULL: discover */
	int			timeout_ms;
	int			connect_timeout_ms;
	int			max_retries;
	int64		max_response_bytes;
	int			max_pages;
	int			page_size;
	int			max_concurrency;
	int			requests_per_window;	/* 0: no client-side limit */
	int			rate_window_ms;
	int			cache_ttl_ms;
	int64		default_window_ms;	/* from the interval option */
} PgApiServerOptions;

/* Credentials; only ever read at execution (RELIABILITY C4). */
typedef struct PgApiCredentials
{
	Oid			umid;			/* user mapping OID, InvalidOid for none */
	char	   *key_id;			/* ClickHouse */
	char	   *key_secret;		/* ClickHouse */
	char	   *api_key;		/* pganalyze */
} PgApiCredentials;

/* Table-level options. */
typedef struct PgApiTableOptions
{
	char	   *resource;
	bool		updatable;
} PgApiTableOptions;

extern void pgapi_get_server_options(Oid serverid, PgApiServerOptions *opts);
extern void pgapi_get_table_options(Oid relid, PgApiTableOptions *opts);
extern char *pgapi_get_column_field(Oid relid, AttrNumber attnum);
extern void pgapi_get_credentials(UserMapping *user, PgApiKind api,
								  PgApiCredentials *creds);
extern bool pgapi_is_loopback_url(const char *url);
extern const char *pgapi_closest_match(const char *word,
									   const char *const *candidates,
									   int ncandidates);

/* ----------------------------------------------------------------
 *		http.c
 * ----------------------------------------------------------------
 */

typedef enum PgApiMethod
{
	PGAPI_GET,
	PGAPI_POST,
	PGAPI_PATCH,
	PGAPI_DELETE
} PgApiMethod;

/*
 * Counters shown by EXPLAIN ANALYZE.  One per scan or modify node; the HTTP
 * layer adds to it.
 */
typedef struct PgApiStats
{
	int64		requests;		/* HTTP transfers started, retries included */
	int64		pages;			/* successful responses consumed as pages */
	int64		retries;
	int64		bytes;			/* response body bytes received */
	int64		cache_hits;
	double		rate_wait_ms;	/* time spent waiting for the rate limiter */
} PgApiStats;

/*
 * One HTTP request and, once done, its response.
 *
 * Create with pgapi_request_new() in the memory context that should own
 * it.  Non-palloc resources (the response buffer, curl_slist, ...) are
 * released by a reset callback on that context, so an ERROR anywhere
 * frees them with the context.
 */
typedef struct PgApiRequest
{
	/* set by the caller */
	PgApiMethod method;
	char	   *path;			/* escaped path and query, relative to the
								 * server URL, e.g. "/v1/organizations" */
	char	   *body;			/* request body (JSON) or NULL */
	size_t		body_len;
	bool		idempotent;		/* may be retried: GET, GraphQL queries */
	bool		allow_404;		/* 404 is an answer (status 404), not an
								 * error */
	bool		expect_text;	/* text/plain response (Prometheus) instead
								 * of application/json */
	const char *label;			/* how errors name the request when the path
								 * says nothing (GraphQL: the root field) */
	bool		no_cache;		/* never answered from the response cache */
	const char *correlation;	/* writes: the tag the request carried, for
								 * DETAIL when the outcome is unknown (N7) */
	const char *unknown_hint;	/* writes: HINT when the outcome is unknown */

	/* set by the HTTP layer */
	long		status;			/* final HTTP status, 0 until done */
	char	   *data;			/* response body, NUL-terminated; owned by
								 * the request */
	size_t		data_len;
	int			attempts;		/* transfers made for this request */
	bool		done;
	bool		from_cache;

	void	   *priv;			/* http.c private state */
	void	   *caller_arg;		/* free for the caller */
} PgApiRequest;

/* Opaque per-user-mapping connection (curl handles, credentials). */
typedef struct PgApiConnection PgApiConnection;

/* Opaque queue of requests run concurrently. */
typedef struct PgApiHttpQueue PgApiHttpQueue;

extern void pgapi_http_init(void);
extern PgApiConnection *pgapi_get_connection(UserMapping *user,
											 const PgApiServerOptions *opts);
extern PgApiRequest *pgapi_request_new(MemoryContext cxt, PgApiMethod method,
									   const char *path);
extern const char *pgapi_method_name(PgApiMethod method);
extern PgApiHttpQueue *pgapi_queue_create(PgApiConnection *conn,
										  PgApiStats *stats);
extern void pgapi_queue_add(PgApiHttpQueue *queue, PgApiRequest *req);
extern PgApiRequest *pgapi_queue_next(PgApiHttpQueue *queue);
extern void pgapi_queue_poll(PgApiHttpQueue *queue);
extern int	pgapi_queue_pending(PgApiHttpQueue *queue);
extern void pgapi_queue_close(PgApiHttpQueue *queue);
extern void pgapi_http_run(PgApiConnection *conn, PgApiRequest **reqs,
						   int nreqs, PgApiStats *stats);
extern void pgapi_http_execute(PgApiConnection *conn, PgApiRequest *req,
							   PgApiStats *stats);
extern char *pgapi_redact(PgApiConnection *conn, const char *text);
extern char *pgapi_http_error_detail(PgApiRequest *req);

/* ----------------------------------------------------------------
 *		headers.c
 * ----------------------------------------------------------------
 */

/* Longest values of Content-Type, Retry-After, X-RateLimit-Reset kept. */
#define PGAPI_HEADER_VALUE_MAX	64

/* Media type of a response, as classified from its Content-Type. */
typedef enum PgApiContentType
{
	PGAPI_CT_NONE,				/* no Content-Type header */
	PGAPI_CT_JSON,				/* application/json */
	PGAPI_CT_TEXT,				/* text/plain */
	PGAPI_CT_OTHER
} PgApiContentType;

/* What the header lines of one response said; fixed size (B13). */
typedef struct PgApiRespHeaders
{
	PgApiContentType ctype;
	char		ctype_text[PGAPI_HEADER_VALUE_MAX]; /* prefix, for messages */
	char		retry_after[PGAPI_HEADER_VALUE_MAX];	/* "" if absent */
	char		ratelimit_reset[PGAPI_HEADER_VALUE_MAX];	/* "" if absent */
} PgApiRespHeaders;

extern void pgapi_headers_reset(PgApiRespHeaders *h);
extern void pgapi_headers_line(PgApiRespHeaders *h, const char *line,
							   size_t len);
extern double pgapi_headers_retry_wait(const PgApiRespHeaders *h, time_t now);

/* ----------------------------------------------------------------
 *		ratelimit.c
 * ----------------------------------------------------------------
 */

/*
 * A client-side limit of requests per window: the requests let through,
 * counted in slots of window_ms / PGAPI_RATE_SLOTS (see ratelimit.c).
 * Zeroed means empty.
 */
#define PGAPI_RATE_SLOTS 16
#define PGAPI_RATE_RING (PGAPI_RATE_SLOTS + 2)

typedef struct PgApiRateWindow
{
	int			requests;		/* settings the counts were made with */
	int			window_ms;
	int64		newest;			/* slot number of counts[newest % RING] */
	int32		counts[PGAPI_RATE_RING];
} PgApiRateWindow;

extern void pgapi_ratelimit_init(void);
extern void pgapi_ratewindow(PgApiRateWindow *w, int requests, int window_ms,
							 double now_ms, bool take, double *wait_ms);
extern bool pgapi_ratelimit_shared(uint64 key, int requests, int window_ms,
								   bool take, double *wait_ms);

/* ----------------------------------------------------------------
 *		cache.c
 * ----------------------------------------------------------------
 */

extern void pgapi_cache_init(void);
extern bool pgapi_cache_lookup(uint64 owner, const PgApiRequest *req,
							   char **data, size_t *data_len, long *status);
extern void pgapi_cache_store(uint64 owner, int ttl_ms, const PgApiRequest *req,
							  const char *data, size_t data_len, long status);
extern int	pgapi_cache_forget(uint64 owner);

/* ----------------------------------------------------------------
 *		jsontape.c
 * ----------------------------------------------------------------
 */

/* Deepest nesting of arrays and objects accepted in a document. */
#define PGAPI_JSON_MAX_DEPTH	16
#define PGAPI_TAPE_MAX_DEPTH	PGAPI_JSON_MAX_DEPTH

typedef enum PgApiTapeType
{
	PGAPI_TAPE_NULL,
	PGAPI_TAPE_FALSE,
	PGAPI_TAPE_TRUE,
	PGAPI_TAPE_INT,				/* a number without '.', 'e' or 'E' */
	PGAPI_TAPE_DOUBLE,			/* any other number */
	PGAPI_TAPE_STRING,
	PGAPI_TAPE_OBJECT,
	PGAPI_TAPE_ARRAY
} PgApiTapeType;

/* PgApiTapeNode.flags */
#define PGAPI_TAPE_ESCAPED		0x01	/* a string holding a backslash escape */

/*
 * One value of a document.  Object members are a key node (a string)
 * followed by the value's nodes, in document order.
 */
typedef struct PgApiTapeNode
{
	uint32		start;			/* byte offset of the token (for strings,
								 * containers: the quote or bracket) */
	uint32		len;			/* bytes, quotes and brackets included */
	uint32		next;			/* index of the node after this value's
								 * subtree */
	uint32		count;			/* containers: members or elements */
	uint8		type;			/* PgApiTapeType */
	uint8		flags;
} PgApiTapeNode;

typedef struct PgApiTape
{
	const char *data;			/* the document (not copied) */
	size_t		len;
	PgApiTapeNode *nodes;		/* node 0 is the document's value */
	uint32		nnodes;
	uint32		cap;
	bool		escaped_keys;	/* some member name holds an escape */
} PgApiTape;

extern PgApiTape *pgapi_tape_parse(const char *data, size_t len,
								   int max_depth);
extern uint32 pgapi_tape_member(const PgApiTape *t, uint32 obj,
								const char *key, size_t keylen);
extern uint32 pgapi_tape_element(const PgApiTape *t, uint32 arr, int64 i);
extern char *pgapi_tape_string(const PgApiTape *t, uint32 idx, size_t *len);

/*
 * pgapi_json_u_escape
 *		The code unit of "\uXXXX" at s[i], or -1 if there is none.
 */
static inline int
pgapi_json_u_escape(const unsigned char *s, size_t len, size_t i)
{
	int			v = 0;

	if (i + 6 > len || s[i] != '\\' || s[i + 1] != 'u')
		return -1;
	for (int k = 2; k < 6; k++)
	{
		unsigned char c = s[i + k];
		int			h;

		if (c >= '0' && c <= '9')
			h = c - '0';
		else if (c >= 'a' && c <= 'f')
			h = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			h = c - 'A' + 10;
		else
			return -1;
		v = (v << 4) | h;
	}
	return v;
}

/* What pgapi_json_scan_escape found */
typedef enum PgApiJsonEscape
{
	PGAPI_ESCAPE_OK,
	PGAPI_ESCAPE_INVALID,		/* not one of the RFC 8259 escapes */
	PGAPI_ESCAPE_BAD_U,			/* "\u" without four hex digits */
	PGAPI_ESCAPE_LONE_HIGH,		/* high surrogate without a low one */
	PGAPI_ESCAPE_LONE_LOW		/* low surrogate without a high one */
} PgApiJsonEscape;

/*
 * pgapi_json_scan_escape
 *		Check the escape sequence at s[*pos] (a backslash, *pos + 1 < len)
 *		and, when it is valid, advance *pos past it.  *pair is the code
 *		point of a surrogate pair, else -1.  Shared by json.c's lexical pass
 *		and jsontape.c.
 */
static inline PgApiJsonEscape
pgapi_json_scan_escape(const unsigned char *s, size_t len, size_t *pos,
					   int *pair)
{
	size_t		i = *pos;
	int			u;
	int			lo;

	*pair = -1;
	switch (s[i + 1])
	{
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			*pos = i + 2;
			return PGAPI_ESCAPE_OK;
		case 'u':
			break;
		default:
			return PGAPI_ESCAPE_INVALID;
	}
	u = pgapi_json_u_escape(s, len, i);
	if (u < 0)
		return PGAPI_ESCAPE_BAD_U;
	if (u >= 0xDC00 && u <= 0xDFFF)
		return PGAPI_ESCAPE_LONE_LOW;
	if (u < 0xD800 || u > 0xDBFF)
	{
		*pos = i + 6;
		return PGAPI_ESCAPE_OK;
	}
	lo = pgapi_json_u_escape(s, len, i + 6);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return PGAPI_ESCAPE_LONE_HIGH;
	*pair = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
	*pos = i + 12;
	return PGAPI_ESCAPE_OK;
}

/*
 * pgapi_json_scan_number
 *		Match an RFC 8259 number at s[*pos]: -?(0|[1-9][0-9]*)(.[0-9]+)?
 *		([eE][+-]?[0-9]+)?.  On a match, advance *pos past it and tell
 *		whether it is an integer; else leave *pos alone.  The caller checks
 *		what follows.  Shared by json.c's lexical pass and jsontape.c.
 */
static inline bool
pgapi_json_scan_number(const unsigned char *s, size_t len, size_t *pos,
					   bool *is_int)
{
	size_t		i = *pos;

#define PGAPI_JSON_DIGIT(c) ((c) >= '0' && (c) <= '9')
	*is_int = true;
	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9')
	{
		while (i < len && PGAPI_JSON_DIGIT(s[i]))
			i++;
	}
	else
		return false;
	if (i < len && s[i] == '.')
	{
		*is_int = false;
		i++;
		if (i >= len || !PGAPI_JSON_DIGIT(s[i]))
			return false;
		while (i < len && PGAPI_JSON_DIGIT(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		*is_int = false;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !PGAPI_JSON_DIGIT(s[i]))
			return false;
		while (i < len && PGAPI_JSON_DIGIT(s[i]))
			i++;
	}
#undef PGAPI_JSON_DIGIT
	*pos = i;
	return true;
}

/* ----------------------------------------------------------------
 *		json.c
 * ----------------------------------------------------------------
 */

typedef enum PgApiJsonType
{
	PGAPI_JSON_NULL,			/* JSON null, or a missing member */
	PGAPI_JSON_BOOL,
	PGAPI_JSON_INT,
	PGAPI_JSON_DOUBLE,
	PGAPI_JSON_STRING,
	PGAPI_JSON_OBJECT,
	PGAPI_JSON_ARRAY
} PgApiJsonType;

/* A parsed document; the json-c tree is freed with its memory context. */
typedef struct PgApiJsonDoc PgApiJsonDoc;

/* A borrowed pointer to a value inside a document; NULL means "missing". */
typedef const struct PgApiJsonValueData *PgApiJsonValue;

/*
 * A member path compiled once per scan (STYLE: "look fields up through the
 * descriptor's precomputed keys").  Made by pgapi_json_compile_path() from
 * "name" or a JSON pointer "/a/b/0".
 */
typedef struct PgApiJsonPath PgApiJsonPath;

/*
 * How one column is converted: the column type's input function, plus the
 * element type's for arrays.  Filled by pgapi_json_init_conv().
 */
typedef enum PgApiConvKind
{
	PGAPI_CONV_INPUT,			/* any type: text through its input function */
	PGAPI_CONV_TEXT,			/* text/varchar: direct copy */
	PGAPI_CONV_JSON,			/* json/jsonb: value serialized verbatim */
	PGAPI_CONV_TIMESTAMPTZ,		/* RFC 3339 with offset, or Unix seconds */
	PGAPI_CONV_ARRAY			/* JSON array to SQL array */
} PgApiConvKind;

typedef struct PgApiColumnConv
{
	PgApiConvKind kind;
	Oid			typid;
	int32		typmod;
	FmgrInfo	inflinfo;
	Oid			typioparam;
	/* arrays only */
	Oid			elemtype;
	FmgrInfo	elem_inflinfo;
	Oid			elem_ioparam;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	PgApiConvKind elemkind;
} PgApiColumnConv;

extern PgApiJsonDoc *pgapi_json_parse(const char *data, size_t len);
extern PgApiJsonValue pgapi_json_root(PgApiJsonDoc *doc);
extern PgApiJsonType pgapi_json_type(PgApiJsonValue v);
extern PgApiJsonValue pgapi_json_get(PgApiJsonValue obj, const char *key);
extern PgApiJsonPath *pgapi_json_compile_path(const char *field);
extern PgApiJsonValue pgapi_json_get_path(PgApiJsonValue v,
										  const PgApiJsonPath *path);
extern int	pgapi_json_array_length(PgApiJsonValue arr);
extern PgApiJsonValue pgapi_json_array_get(PgApiJsonValue arr, int i);
extern int	pgapi_json_object_length(PgApiJsonValue obj);
extern PgApiJsonValue pgapi_json_object_entry(PgApiJsonValue obj, int i,
											  const char **key);
extern const char *pgapi_json_string(PgApiJsonValue v, size_t *len);
extern char *pgapi_json_to_text(PgApiJsonValue v);
extern uint64 pgapi_json_hash(PgApiJsonValue v);
extern char *pgapi_json_scalar_text(PgApiJsonValue v);
extern void pgapi_json_init_conv(PgApiColumnConv *conv, Oid typid,
								 int32 typmod);
extern Datum pgapi_json_to_datum(PgApiJsonValue v, PgApiColumnConv *conv,
								 bool *isnull);
extern PgApiTape *pgapi_json_parse_tape(const char *data, size_t len);
extern const char *pgapi_json_path_first(const PgApiJsonPath *path,
										 size_t *len, int *nsegs);
extern uint32 pgapi_json_tape_get_path(const PgApiTape *t, uint32 node,
									   const PgApiJsonPath *path, int from);
extern Datum pgapi_json_tape_to_datum(const PgApiTape *t, uint32 idx,
									  PgApiColumnConv *conv, bool *isnull);
extern void pgapi_json_error_fields(const char *data, size_t len,
									char **message, char **request_id,
									char **code);

/* Building request bodies (json-c, never string concatenation). */
typedef struct PgApiJsonBuilder PgApiJsonBuilder;

extern PgApiJsonBuilder *pgapi_jb_object(void);
extern PgApiJsonBuilder *pgapi_jb_array(void);
extern void pgapi_jb_add_string(PgApiJsonBuilder *b, const char *key,
								const char *value);
extern void pgapi_jb_add_int64(PgApiJsonBuilder *b, const char *key,
							   int64 value);
extern void pgapi_jb_add_bool(PgApiJsonBuilder *b, const char *key,
							  bool value);
extern void pgapi_jb_add_null(PgApiJsonBuilder *b, const char *key);
extern void pgapi_jb_add_json(PgApiJsonBuilder *b, const char *key,
							  const char *json_text);
extern void pgapi_jb_add_builder(PgApiJsonBuilder *b, const char *key,
								 PgApiJsonBuilder *child);
extern char *pgapi_jb_finish(PgApiJsonBuilder *b, size_t *len);

/* ----------------------------------------------------------------
 *		resource.c, api_clickhouse.c, api_pganalyze.c
 *
 * A resource is data: a static const descriptor per API object.  The
 * validator, IMPORT FOREIGN SCHEMA, the planner, the executor and the
 * listing function all read the same tables.
 * ----------------------------------------------------------------
 */

/* Where a request parameter travels. */
typedef enum PgApiParamLoc
{
	PGAPI_LOC_NONE,				/* not a request parameter */
	PGAPI_LOC_PATH,				/* "{column}" in the path template */
	PGAPI_LOC_QUERY,			/* "?param=value" */
	PGAPI_LOC_VARIABLE			/* GraphQL variable */
} PgApiParamLoc;

/* How a SQL value is written into a request. */
typedef enum PgApiValueFormat
{
	PGAPI_FMT_TEXT,				/* the type's output function */
	PGAPI_FMT_ID,				/* an identifier: [A-Za-z0-9_.-] only */
	PGAPI_FMT_RFC3339,			/* timestamptz as 2026-05-25T00:00:00.000Z */
	PGAPI_FMT_UNIX,				/* timestamptz as Unix seconds */
	PGAPI_FMT_INT,				/* integer */
	PGAPI_FMT_BOOL				/* boolean */
} PgApiValueFormat;

/* Column flags. */
#define PGAPI_COL_KEY			0x0001	/* "col = value" is a request parameter */
#define PGAPI_COL_REQUIRED		0x0002	/* no request without it */
#define PGAPI_COL_FANOUT		0x0004	/* absent: list the services, query
										 * each */
#define PGAPI_COL_ID			0x0008	/* "id =" selects the one-object GET */
#define PGAPI_COL_DETAIL		0x0010	/* only the one-object GET has it */
#define PGAPI_COL_WINDOW_FROM	0x0020	/* window start */
#define PGAPI_COL_WINDOW_TO		0x0040	/* window end */
#define PGAPI_COL_SCALAR_ONLY	0x0080	/* "=" only; IN is not sent */
#define PGAPI_COL_INSERT		0x0100	/* INSERT sends it */
#define PGAPI_COL_UPDATE		0x0200	/* UPDATE may change it */
#define PGAPI_COL_GQL_LIST		0x0400	/* GraphQL list argument: IN is one
										 * value */
#define PGAPI_COL_ECHO			0x0800	/* value is the request parameter sent,
										 * not a field of the row */
#define PGAPI_COL_FANOUT_ALT	0x1000	/* given, it replaces the fan-out */
#define PGAPI_COL_BUCKET		0x2000	/* absent: derived from the window,
										 * see pgapi_window_defaults() */

typedef struct PgApiColumnDesc
{
	const char *name;			/* SQL column name */
	const char *type;			/* SQL type (IMPORT FOREIGN SCHEMA) */
	const char *field;			/* member or JSON pointer in the row object;
								 * "$key"/"$value" for object entries; NULL:
								 * the camelCase of the name */
	int			level;			/* 0: the row element, 1: its parent, ... */
	uint32		flags;
	const char *param;			/* API parameter name, or NULL */
	PgApiParamLoc loc;
	PgApiValueFormat format;
	const char *sort_by;		/* API sort key for ORDER BY, or NULL */
	const char *const *allowed; /* NULL-terminated enum values, or NULL */
	const char *const *value_map;	/* NULL-terminated pairs API -> SQL */
	const char *gql_subselect;	/* GraphQL selection of an object field */
} PgApiColumnDesc;

/* One step from the payload down to the rows. */
typedef struct PgApiRowStep
{
	const char *member;			/* descend into this member first, or NULL */
	bool		entries;		/* iterate object members, not array items */
} PgApiRowStep;

typedef enum PgApiPaging
{
	PGAPI_PAGING_NONE,
	PGAPI_PAGING_LIMIT_OFFSET	/* "limit" and "offset" query parameters */
} PgApiPaging;

typedef enum PgApiBodyFormat
{
	PGAPI_BODY_JSON,
	PGAPI_BODY_PROMETHEUS
} PgApiBodyFormat;

typedef struct PgApiResourceDesc
{
	const char *name;			/* the "resource" table option */
	PgApiKind	api;
	const char *description;
	const char *path;			/* REST path template, "{organization_id}"
								 * and "{column}" placeholders */
	const char *single_path;	/* path of the one-object GET, or NULL */
	const char *gql_field;		/* GraphQL root field, or NULL */
	const char *gql_args;		/* GraphQL argument types "name: Type, ..." */
	const char *fanout_resource;	/* resource listing the FANOUT values */
	const char *fanout_column;	/* its column holding them */
	PgApiBodyFormat body;
	const PgApiRowStep *steps;
	int			nsteps;
	PgApiPaging paging;
	int			max_page_size;
	double		rows_estimate;	/* rows per request, for the planner */
	const PgApiColumnDesc *columns;
	int			ncolumns;
	/* writes; NULL when not supported */
	const char *insert_path;	/* POST */
	const char *update_path;	/* PATCH */
	const char *delete_path;	/* DELETE */
	const char *name_field;		/* creates: object names are kept unique
								 * (W9) */
	const char *tag_field;		/* creates: array of {"key", "value"} that
								 * carries the correlation tag (N7) */
} PgApiResourceDesc;

extern const PgApiResourceDesc *pgapi_find_resource(const char *name);
extern const PgApiResourceDesc *pgapi_lookup_resource(const char *name,
													  PgApiKind api);
extern const PgApiColumnDesc *pgapi_find_column(const PgApiResourceDesc *res,
												const char *name);
extern const char *pgapi_api_name(PgApiKind api);
extern const char *pgapi_api_option_value(PgApiKind api);
extern char *pgapi_default_field(const char *colname);
extern void pgapi_check_foreign_table(Oid relid);

extern const PgApiResourceDesc pgapi_clickhouse_resources[];
extern const int pgapi_clickhouse_nresources;
extern const PgApiResourceDesc pgapi_pganalyze_resources[];
extern const int pgapi_pganalyze_nresources;

/* ----------------------------------------------------------------
 *		deparse.c
 * ----------------------------------------------------------------
 */

/*
 * A qual sent to the API: "column = value" or "column = ANY(array)".
 * value holds the expression evaluated at execution (a Const, a Param, an
 * outer Var of a nested loop or a stable expression).
 */
typedef struct PgApiKeyQual
{
	int			colidx;			/* index into the resource's columns */
	AttrNumber	attnum;
	Expr	   *value;			/* scalar, or an array when is_list */
	bool		is_list;
} PgApiKeyQual;

/* Planner state of a foreign base relation (baserel->fdw_private). */
typedef struct PgApiRelInfo
{
	PgApiServerOptions opts;
	PgApiTableOptions topts;
	const PgApiResourceDesc *res;
	char	   *relname;
	int			natts;
	int		   *attcol;			/* attnum - 1 -> column index, -1: a column
								 * with a "field" option */
	List	   *key_quals;		/* PgApiKeyQual * from baserestrictinfo */
	List	   *remote_conds;	/* RestrictInfo * sent to the API */
	List	   *local_conds;	/* RestrictInfo * checked locally */
	Bitmapset  *attrs_used;		/* attnums (offset by
								 * FirstLowInvalidHeapAttributeNumber) */
	double		rows_per_request;
} PgApiRelInfo;

struct PlannerInfo;
struct RelOptInfo;

extern bool pgapi_match_key_qual(struct PlannerInfo *root,
								 struct RelOptInfo *baserel,
								 PgApiRelInfo *info, Expr *clause,
								 PgApiKeyQual *qual);
extern char *pgapi_format_value(Datum value, Oid typid,
								PgApiValueFormat format,
								const char *colname, const char *relname);
extern void pgapi_append_escaped(StringInfo buf, const char *s);
extern char *pgapi_fill_path(const char *template, const char *const *values,
							 const PgApiResourceDesc *res,
							 const char *organization_id);

/* ----------------------------------------------------------------
 *		rfc3339.c
 * ----------------------------------------------------------------
 */

/* Length of "YYYY-MM-DDTHH:MM:SS.mmmZ", without the NUL. */
#define PGAPI_RFC3339_LEN 24

extern bool pgapi_is_rfc3339(const char *s, size_t len);
extern bool pgapi_unix_to_timestamptz(const char *s, size_t len,
									  TimestampTz *result);
extern TimestampTz pgapi_truncate_ms(TimestampTz ts);
extern int64 pgapi_unix_seconds(TimestampTz ts);
extern bool pgapi_format_rfc3339(TimestampTz ts, char *buf);

/* ----------------------------------------------------------------
 *		scan.c
 * ----------------------------------------------------------------
 */

/* One value of a request parameter, known at execution. */
typedef struct PgApiParamValue
{
	Datum		datum;			/* the SQL value, echoed into the rows */
	char	   *text;			/* as sent to the API */
} PgApiParamValue;

/*
 * What a scan fetches: decoded from the plan, with parameter values
 * evaluated.  Built by pgapi_fdw.c, consumed by scan.c.
 */
typedef struct PgApiScanSpec
{
	const PgApiResourceDesc *res;
	const PgApiServerOptions *opts;
	const char *relname;
	TupleDesc	tupdesc;
	int		   *attcol;			/* attnum - 1 -> column index or -1 */
	char	  **attfield;		/* attnum - 1 -> field read, or NULL */
	bool	   *attneeded;		/* attnum - 1 -> must be filled */
	List	  **params;			/* column index -> List of PgApiParamValue *,
								 * NIL when not constrained */
	bool	   *constrained;	/* column index -> a qual gave values */
	List	   *tuples;			/* explicit assignments from a join: each a
								 * PgApiParamValue *[ncolumns], NULL where
								 * not set */
	bool	   *tuple_cols;		/* column index -> set by the tuples */
	const char *sort_by;		/* API sort key, or NULL */
	bool		sort_desc;
	int64		limit;			/* rows wanted, -1 for all */
} PgApiScanSpec;

typedef struct PgApiScan PgApiScan;

extern PgApiScan *pgapi_scan_begin(PgApiScanSpec *spec, UserMapping *user,
								   PgApiStats *stats);
extern bool pgapi_scan_next(PgApiScan *scan, Datum *values, bool *isnull);
extern void pgapi_scan_end(PgApiScan *scan);
extern void pgapi_scan_init(void);
extern void pgapi_window_defaults(PgApiScanSpec *spec);
extern List *pgapi_describe_requests(const PgApiResourceDesc *res,
									 const PgApiServerOptions *opts,
									 const char *const *known,
									 const bool *constrained,
									 const char *sort_by, bool sort_desc,
									 int64 limit, bool fanout,
									 const char *selection);
extern char *pgapi_scan_selection(const PgApiResourceDesc *res, int natts,
								  const int *attcol, char *const *attfield,
								  const bool *needed);
extern char *pgapi_organization_id(const PgApiServerOptions *opts,
								   UserMapping *user, PgApiConnection *conn,
								   PgApiStats *stats);

/* ----------------------------------------------------------------
 *		rest.c
 * ----------------------------------------------------------------
 */

extern PgApiJsonValue pgapi_rest_result(PgApiRequest *req, PgApiJsonDoc *doc,
										bool optional);

/* ----------------------------------------------------------------
 *		graphql.c
 * ----------------------------------------------------------------
 */

/* Aliased root fields per GraphQL document (database ids per request). */
#define PGAPI_GQL_BATCH 25

extern char *pgapi_graphql_selection(const PgApiResourceDesc *res,
									 const char *const *fields,
									 const int *levels,
									 const char *const *subselects,
									 int nfields);
extern char *pgapi_graphql_document(const PgApiResourceDesc *res,
									const char *selection,
									const char *const *const *texts,
									List *const *lists, int nstreams,
									size_t *len);
extern char *pgapi_graphql_describe(const PgApiResourceDesc *res,
									const char *selection,
									const char *const *texts,
									const bool *constrained);
extern PgApiJsonValue pgapi_graphql_data(PgApiRequest *req, PgApiJsonDoc *doc,
										 int alias);

/* ----------------------------------------------------------------
 *		import.c
 * ----------------------------------------------------------------
 */

struct ImportForeignSchemaStmt;

extern List *pgapiImportForeignSchema(struct ImportForeignSchemaStmt *stmt,
									  Oid serverOid);

/* ----------------------------------------------------------------
 *		prometheus.c
 * ----------------------------------------------------------------
 */

/*
 * Most data points the metrics endpoint returns per series; a window
 * without bucket_size_seconds gets ceil(seconds / this) (DESIGN.md
 * "Clarifications, Metrics").
 */
#define PGAPI_METRICS_MAX_POINTS 250

extern char *pgapi_prometheus_to_json(const char *data, size_t len,
									  size_t *json_len);

/* ----------------------------------------------------------------
 *		modify.c
 * ----------------------------------------------------------------
 */

struct PlannerInfo;
struct ModifyTable;
struct ModifyTableState;
struct ResultRelInfo;
struct EState;
struct TupleTableSlot;
struct ExplainState;
struct RangeTblEntry;

extern void pgapi_modify_init(void);
extern void pgapiAddForeignUpdateTargets(struct PlannerInfo *root,
										 Index rtindex,
										 struct RangeTblEntry *target_rte,
										 Relation target_relation);
extern List *pgapiPlanForeignModify(struct PlannerInfo *root,
									struct ModifyTable *plan,
									Index resultRelation, int subplan_index);
extern void pgapiBeginForeignModify(struct ModifyTableState *mtstate,
									struct ResultRelInfo *rinfo,
									List *fdw_private, int subplan_index,
									int eflags);
extern struct TupleTableSlot *pgapiExecForeignInsert(struct EState *estate,
													 struct ResultRelInfo *rinfo,
													 struct TupleTableSlot *slot,
													 struct TupleTableSlot *planSlot);
extern struct TupleTableSlot *pgapiExecForeignUpdate(struct EState *estate,
													 struct ResultRelInfo *rinfo,
													 struct TupleTableSlot *slot,
													 struct TupleTableSlot *planSlot);
extern struct TupleTableSlot *pgapiExecForeignDelete(struct EState *estate,
													 struct ResultRelInfo *rinfo,
													 struct TupleTableSlot *slot,
													 struct TupleTableSlot *planSlot);
extern void pgapiEndForeignModify(struct EState *estate,
								  struct ResultRelInfo *rinfo);
extern int	pgapiIsForeignRelUpdatable(Relation rel);
extern void pgapiExplainForeignModify(struct ModifyTableState *mtstate,
									  struct ResultRelInfo *rinfo,
									  List *fdw_private, int subplan_index,
									  struct ExplainState *es);

#endif							/* PGAPI_FDW_H */

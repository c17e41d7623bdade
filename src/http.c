/*-------------------------------------------------------------------------
 *
 * http.c
 *		  libcurl inside a backend: connection cache, request queue, limits,
 *		  cancellation, retries and the HTTP outcome to SQLSTATE mapping.
 *
 * Design notes
 *
 * Connections.  One PgApiConnection per user mapping, kept for the life of
 * the backend in a hash table in CacheMemoryContext (as postgres_fdw's
 * connection.c).  It holds copies of the server options and credentials,
 * one CURLM (whose connection pool gives keep-alive), a pool of idle easy
 * handles and the client-side rate limit.  Syscache callbacks on
 * FOREIGNSERVEROID and USERMAPPINGOID mark it invalidated; it is rebuilt
 * at its next use once no queue or transfer uses it (an open scan keeps
 * its key, RELIABILITY K5).
 *
 * Requests.  A PgApiRequest is palloc'd in the caller's context; its
 * private state (PgApiReqState) registers a reset callback on that context
 * which frees everything that is not palloc'd (the malloc'd response
 * buffer, the curl_slist) and detaches its easy handle from the multi, so
 * an ERROR anywhere leaks nothing (R3).  Nothing palloc'd is left in an
 * easy handle once it goes back to the pool: it is curl_easy_reset then.
 *
 * Queue.  Requests run on the connection's multi handle, at most
 * max_concurrency transfers per queue.  pgapi_queue_next() drives the
 * transfers until the oldest request is complete (FIFO, so row order is
 * deterministic).  The wait is curl_multi_poll() with a timeout of at most
 * 100 ms (signals interrupt it), or WaitLatch() when nothing is in flight,
 * followed by CHECK_FOR_INTERRUPTS() outside of libcurl.  Retries of
 * idempotent requests wait in the same loop, so other transfers keep
 * running meanwhile.
 *
 * Callbacks.  The write, header and progress callbacks never ereport,
 * palloc or CHECK_FOR_INTERRUPTS (R2); they record what happened in the
 * request state and fail by return value.  The ERROR is raised after
 * libcurl returns.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <time.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "common/base64.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include <curl/curl.h>

#include "pgapi_fdw.h"

/* Longest wait in one poll; bounds the reaction to signals and timers. */
#define PGAPI_POLL_MS			100

/* A retry with less of its timeout_ms left than this is not started. */
#define PGAPI_MIN_ATTEMPT_MS	100

/* Retry backoff (RELIABILITY N5): full jitter, base 500 ms, cap 8 s. */
#define PGAPI_BACKOFF_BASE_MS	500.0
#define PGAPI_BACKOFF_CAP_MS	8000.0

/* Lengths of API text in error reports (RELIABILITY B2, B12). */
#define PGAPI_DETAIL_MAX		1024
#define PGAPI_EXCERPT_MAX		200

#define PGAPI_USER_AGENT		"pgapi_fdw/1.0"

/*
 * Set an easy-handle option; an ERROR if libcurl refuses it.  Only for use
 * outside libcurl callbacks.
 */
#define CHECK_SETOPT(h, opt, val) \
	do { \
		CURLcode	setopt_rc_ = curl_easy_setopt((h), (opt), (val)); \
		\
		if (setopt_rc_ != CURLE_OK) \
			ereport(ERROR, \
					(errcode(ERRCODE_FDW_ERROR), \
					 errmsg("could not set libcurl option %s", #opt), \
					 errdetail_internal("%s", curl_easy_strerror(setopt_rc_)))); \
	} while (0)

/* Where a request is in its life. */
typedef enum PgApiReqPhase
{
	PGAPI_REQ_IDLE,				/* not queued */
	PGAPI_REQ_PENDING,			/* queued, never started */
	PGAPI_REQ_WAITING,			/* waiting for its retry time */
	PGAPI_REQ_RUNNING,			/* a transfer owns an easy handle */
	PGAPI_REQ_DONE
} PgApiReqPhase;

struct PgApiReqState;

/*
 * One easy handle.  Allocated in CacheMemoryContext and owned by its
 * connection; lent to one request at a time.
 */
typedef struct PgApiHandle
{
	CURL	   *easy;
	struct PgApiReqState *owner;	/* request using it, NULL when idle */
	struct PgApiHandle *next_idle;	/* idle list link */
	bool		attached;		/* added to the connection's multi */
	bool		finished;		/* CURLMSG_DONE seen, result is valid */
	CURLcode	result;
	char		errbuf[CURL_ERROR_SIZE];
} PgApiHandle;

/*
 * A cached connection; the entry of ConnectionHash, so it never moves.
 * Everything it points to lives in CacheMemoryContext or is libcurl's.
 */
struct PgApiConnection
{
	Oid			umid;			/* hash key (user mapping OID); must be first */
	bool		valid;			/* fully built */
	bool		invalidated;	/* server or mapping changed: rebuild */
	uint32		server_hashvalue;	/* FOREIGNSERVEROID syscache hash */
	uint32		mapping_hashvalue;	/* USERMAPPINGOID syscache hash */
	PgApiServerOptions opts;	/* copy */
	PgApiCredentials creds;		/* copy, validated for headers (C11) */
	char	   *servername;		/* for hints */
	char	   *basic_b64;		/* base64("key_id:key_secret"), to redact */
	bool		loopback;		/* url names a loopback host: http allowed */
	CURLM	   *multi;
	PgApiHandle *idle;			/* idle easy handles */
	int			nidle;
	int			nbusy;			/* handles lent to requests */
	int			nattached;		/* handles added to the multi */
	int			nqueues;		/* open queues */
	/* client-side rate limit: the shared limit's key, or a backend's own */
	uint64		rate_key;		/* hash of the API and the key identity */
	uint64		cache_owner;	/* response cache key of these options */
	PgApiRateWindow rate;		/* when not preloaded; monotonic ms */
};

/*
 * Outcomes of a transfer.  outcome_table below maps each to its SQLSTATE,
 * message, detail and hint; it must match this enum.
 */
typedef enum PgApiOutcome
{
	PGAPI_OUT_OK,				/* 2xx with the right content type */
	PGAPI_OUT_NOT_FOUND_OK,		/* 404 with allow_404 */
	PGAPI_OUT_INTERRUPTED,		/* the progress callback saw an interrupt */
	PGAPI_OUT_TRANSPORT,		/* refused, DNS, TLS, timeout, reset */
	PGAPI_OUT_WRITE_UNKNOWN,	/* a write that may have been applied */
	PGAPI_OUT_TOO_LARGE,		/* body over max_response_bytes */
	PGAPI_OUT_NO_MEMORY,		/* malloc failed in the write callback */
	PGAPI_OUT_REDIRECT,			/* 3xx */
	PGAPI_OUT_AUTH,				/* 401, 403 */
	PGAPI_OUT_NOT_FOUND,		/* 404 */
	PGAPI_OUT_CONFLICT,			/* 409 */
	PGAPI_OUT_CLIENT,			/* other 4xx */
	PGAPI_OUT_THROTTLED,		/* 429, 500, 502, 503, 504 */
	PGAPI_OUT_SERVER,			/* other 5xx */
	PGAPI_OUT_STATUS,			/* any other status */
	PGAPI_OUT_CONTENT_TYPE		/* 2xx with a body we may not parse */
} PgApiOutcome;

/*
 * Private state of a request (PgApiRequest.priv), in the request's memory
 * context.  The fields after "filled by the callbacks" are written by the
 * libcurl callbacks, which may not palloc or ereport.
 */
typedef struct PgApiReqState
{
	PgApiRequest *req;
	MemoryContextCallback cb;	/* frees the non-palloc resources */
	PgApiConnection *conn;		/* of the last transfer */
	struct PgApiHttpQueue *queue;	/* queue holding it, or NULL */
	int			qindex;			/* its slot in queue->reqs */
	PgApiHandle *handle;		/* while a transfer owns one */
	PgApiReqPhase phase;
	double		start_at;		/* WAITING: monotonic ms to start again */
	double		deadline;		/* first start + timeout_ms */
	double		rate_since;		/* waiting for the rate limit since; 0: not */
	PgApiOutcome last_out;		/* WAITING: the outcome being retried */
	long		last_status;	/* and its HTTP status (0: none) */
	struct curl_slist *headers; /* malloc'd by libcurl */

	/* filled by the callbacks during one transfer */
	char	   *buf;			/* malloc'd body, NUL-terminated */
	size_t		len;
	size_t		cap;
	size_t		max_bytes;
	bool		too_large;
	bool		no_memory;
	PgApiRespHeaders hdr;		/* read by the header callback */
} PgApiReqState;

/* A queue of requests run concurrently; palloc'd in the caller's context. */
struct PgApiHttpQueue
{
	PgApiConnection *conn;
	PgApiStats *stats;
	PgApiStats	own_stats;		/* when the caller passed none */
	PgApiRequest **reqs;		/* FIFO; NULL: the request's context died */
	int			head;
	int			tail;
	int			cap;
	bool		closed;
	bool		failed;			/* an ERROR was raised from it */
	MemoryContextCallback cb;
};

typedef enum PgApiDetailKind
{
	PGAPI_DETAIL_NONE,
	PGAPI_DETAIL_CURL,			/* curl's error buffer */
	PGAPI_DETAIL_API,			/* the API's message, code and requestId */
	PGAPI_DETAIL_REDIRECT,
	PGAPI_DETAIL_TOO_LARGE,
	PGAPI_DETAIL_EXCERPT		/* status, content type, body excerpt */
} PgApiDetailKind;

typedef enum PgApiHintKind
{
	PGAPI_HINT_NONE,
	PGAPI_HINT_AUTH,			/* the user mapping's key options */
	PGAPI_HINT_RETRY,			/* retry later or lower concurrency */
	PGAPI_HINT_MAX_BYTES,		/* the max_response_bytes option */
	PGAPI_HINT_URL,				/* the url option */
	PGAPI_HINT_CHECK_STATE		/* look before retrying a write */
} PgApiHintKind;

typedef struct PgApiOutcomeInfo
{
	int			sqlerrcode;
	const char *message;		/* format: %s API name, then %ld status */
	PgApiDetailKind detail;
	PgApiHintKind hint;
	bool		retryable;		/* retried when the request is idempotent */
} PgApiOutcomeInfo;

/* Must match enum PgApiOutcome. */
static const PgApiOutcomeInfo outcome_table[] = {
	[PGAPI_OUT_OK] = {0, NULL, PGAPI_DETAIL_NONE, PGAPI_HINT_NONE, false},
	[PGAPI_OUT_NOT_FOUND_OK] = {0, NULL, PGAPI_DETAIL_NONE, PGAPI_HINT_NONE, false},
	[PGAPI_OUT_INTERRUPTED] = {0, NULL, PGAPI_DETAIL_NONE, PGAPI_HINT_NONE, false},
	[PGAPI_OUT_TRANSPORT] = {ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
		gettext_noop("request to the %s failed"),
	PGAPI_DETAIL_CURL, PGAPI_HINT_NONE, true},
	[PGAPI_OUT_WRITE_UNKNOWN] = {ERRCODE_T_R_STATEMENT_COMPLETION_UNKNOWN,
		gettext_noop("outcome of the request to the %s is unknown"),
	PGAPI_DETAIL_CURL, PGAPI_HINT_CHECK_STATE, false},
	[PGAPI_OUT_TOO_LARGE] = {ERRCODE_PROGRAM_LIMIT_EXCEEDED,
		gettext_noop("response from the %s is too large"),
	PGAPI_DETAIL_TOO_LARGE, PGAPI_HINT_MAX_BYTES, false},
	[PGAPI_OUT_NO_MEMORY] = {ERRCODE_OUT_OF_MEMORY,
		gettext_noop("out of memory while receiving a response from the %s"),
	PGAPI_DETAIL_NONE, PGAPI_HINT_NONE, false},
	[PGAPI_OUT_REDIRECT] = {ERRCODE_FDW_ERROR,
		gettext_noop("%s returned redirect status %ld"),
	PGAPI_DETAIL_REDIRECT, PGAPI_HINT_URL, false},
	[PGAPI_OUT_AUTH] = {ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
		gettext_noop("%s rejected the credentials with status %ld"),
	PGAPI_DETAIL_API, PGAPI_HINT_AUTH, false},
	[PGAPI_OUT_NOT_FOUND] = {ERRCODE_FDW_ERROR,
		gettext_noop("%s returned %ld"),
	PGAPI_DETAIL_API, PGAPI_HINT_NONE, false},
	[PGAPI_OUT_CONFLICT] = {ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		gettext_noop("%s returned %ld"),
	PGAPI_DETAIL_API, PGAPI_HINT_NONE, false},
	[PGAPI_OUT_CLIENT] = {ERRCODE_FDW_ERROR,
		gettext_noop("%s returned %ld"),
	PGAPI_DETAIL_API, PGAPI_HINT_NONE, false},
	[PGAPI_OUT_THROTTLED] = {ERRCODE_FDW_ERROR,
		gettext_noop("%s returned %ld"),
	PGAPI_DETAIL_API, PGAPI_HINT_RETRY, true},
	[PGAPI_OUT_SERVER] = {ERRCODE_FDW_ERROR,
		gettext_noop("%s returned %ld"),
	PGAPI_DETAIL_API, PGAPI_HINT_RETRY, false},
	[PGAPI_OUT_STATUS] = {ERRCODE_FDW_ERROR,
		gettext_noop("%s returned unexpected status %ld"),
	PGAPI_DETAIL_API, PGAPI_HINT_NONE, false},
	[PGAPI_OUT_CONTENT_TYPE] = {ERRCODE_FDW_UNABLE_TO_CREATE_REPLY,
		gettext_noop("unexpected response from the %s"),
	PGAPI_DETAIL_EXCERPT, PGAPI_HINT_NONE, false},
};

StaticAssertDecl(lengthof(outcome_table) == PGAPI_OUT_CONTENT_TYPE + 1,
				 "outcome_table must match enum PgApiOutcome");

static HTAB *ConnectionHash = NULL;
static bool http_initialized = false;

static void connection_inval_callback(Datum arg, int cacheid,
									  uint32 hashvalue);
static void connection_destroy(PgApiConnection *conn);
static void connection_build(PgApiConnection *conn, UserMapping *user,
							 const PgApiServerOptions *opts);
static void request_reset_callback(void *arg);
static void queue_reset_callback(void *arg);
static void queue_abort(PgApiHttpQueue *queue);
static void release_handle(PgApiReqState *st);

/* ----------------------------------------------------------------
 *		small helpers
 * ----------------------------------------------------------------
 */

/* Monotonic time in milliseconds. */
static double
now_ms(void)
{
	instr_time	t;

	INSTR_TIME_SET_CURRENT(t);
	return INSTR_TIME_GET_MILLISEC(t);
}

/* Name of the API for messages ("ClickHouse Cloud API"). */
static const char *
api_display_name(PgApiKind api)
{
	return api == PGAPI_CLICKHOUSE ? "ClickHouse Cloud API" : "pganalyze API";
}

/*
 * pgapi_method_name
 *		The HTTP method as text.  Never errors; static storage.
 */
const char *
pgapi_method_name(PgApiMethod method)
{
	switch (method)
	{
		case PGAPI_GET:
			return "GET";
		case PGAPI_POST:
			return "POST";
		case PGAPI_PATCH:
			return "PATCH";
		case PGAPI_DELETE:
			return "DELETE";
	}
	return "GET";				/* keep compiler quiet */
}

/* Path for messages: never the host, never a secret. */
static const char *
display_path(const PgApiRequest *req)
{
	if (req->label)
		return req->label;
	return (req->path && req->path[0]) ? req->path : "/";
}

/*
 * Milliseconds left before statement_timeout fires; DBL_MAX without one.
 */
static double
statement_ms_left(void)
{
	TimestampTz end;

	if (StatementTimeout <= 0)
		return DBL_MAX;
	end = TimestampTzPlusMilliseconds(GetCurrentStatementStartTimestamp(),
									  StatementTimeout);
	return (double) (end - GetCurrentTimestamp()) / 1000.0;
}

/*
 * Append s[0..len) to buf with control bytes as \xNN, stopping before buf
 * would exceed maxlen bytes (then "..." ends it).  Multibyte characters
 * are kept only when they are valid UTF-8 and the database is UTF-8;
 * otherwise each byte is escaped.  The result is always valid text.
 */
static void
append_escaped(StringInfo buf, const char *s, size_t len, size_t maxlen)
{
	bool		utf8 = (GetDatabaseEncoding() == PG_UTF8);
	size_t		limit = buf->len + (maxlen > 3 ? maxlen - 3 : 0);
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		int			n = 1;
		bool		escape = false;

		if (c < 0x20 || c == 0x7f)
			escape = true;
		else if (c >= 0x80)
		{
			n = pg_utf_mblen((const unsigned char *) s + i);
			if (!utf8 || i + n > len ||
				!pg_utf8_islegal((const unsigned char *) s + i, n))
			{
				n = 1;
				escape = true;
			}
		}
		if ((size_t) buf->len + (escape ? 4 : n) > limit)
		{
			appendStringInfoString(buf, "...");
			return;
		}
		if (escape)
			appendStringInfo(buf, "\\x%02X", c);
		else
			appendBinaryStringInfo(buf, s + i, n);
		i += n;
	}
}

/* ----------------------------------------------------------------
 *		redaction
 * ----------------------------------------------------------------
 */

/* Does s[0..len) start with a JSON member name we always hide? */
static size_t
secret_member_at(const char *s, size_t len)
{
	static const char *const members[] = {"\"password\"", "\"connectionString\""};

	for (size_t i = 0; i < lengthof(members); i++)
	{
		size_t		mlen = strlen(members[i]);

		if (len >= mlen && memcmp(s, members[i], mlen) == 0)
			return mlen;
	}
	return 0;
}

/*
 * Copy s[0..len) into a palloc'd, NUL-terminated string (embedded NULs
 * kept, *outlen set) with every secret of conn replaced by "[redacted]",
 * and the string values of JSON members "password" and "connectionString"
 * too.  conn may be NULL.
 */
static char *
redact_buffer(PgApiConnection *conn, const char *s, size_t len,
			  size_t *outlen)
{
	const char *needles[4];
	size_t		nlens[4];
	int			nneedles = 0;
	StringInfoData out;
	size_t		i = 0;

	if (conn != NULL && conn->valid)
	{
		const char *cands[4] = {conn->creds.key_secret, conn->basic_b64,
		conn->creds.key_id, conn->creds.api_key};

		/* longest first would be nicer; these rarely overlap */
		for (size_t k = 0; k < lengthof(cands); k++)
			if (cands[k] && cands[k][0])
			{
				needles[nneedles] = cands[k];
				nlens[nneedles++] = strlen(cands[k]);
			}
	}

	initStringInfo(&out);
	while (i < len)
	{
		bool		matched = false;
		size_t		mlen;

		for (int k = 0; k < nneedles; k++)
		{
			if (len - i >= nlens[k] && memcmp(s + i, needles[k], nlens[k]) == 0)
			{
				appendStringInfoString(&out, "[redacted]");
				i += nlens[k];
				matched = true;
				break;
			}
		}
		if (matched)
			continue;

		if (s[i] == '"' && (mlen = secret_member_at(s + i, len - i)) > 0)
		{
			size_t		j = i + mlen;

			while (j < len && (s[j] == ' ' || s[j] == '\t' ||
							   s[j] == '\r' || s[j] == '\n'))
				j++;
			if (j < len && s[j] == ':')
			{
				j++;
				while (j < len && (s[j] == ' ' || s[j] == '\t' ||
								   s[j] == '\r' || s[j] == '\n'))
					j++;
				if (j < len && s[j] == '"')
				{
					/* skip the string value, honouring backslash escapes */
					j++;
					while (j < len && s[j] != '"')
						j += (s[j] == '\\') ? 2 : 1;
					appendBinaryStringInfo(&out, s + i, mlen);
					appendStringInfoString(&out, ": \"[redacted]\"");
					i = Min(j + 1, len);
					continue;
				}
			}
		}
		appendStringInfoChar(&out, s[i]);
		i++;
	}
	*outlen = out.len;
	return out.data;
}

/*
 * pgapi_redact
 *		A palloc'd copy of text with the connection's secrets (key_id,
 *		key_secret, api_key, base64("key_id:key_secret")) and the values of
 *		JSON members "password" and "connectionString" replaced by
 *		"[redacted]".  conn may be NULL.  Allocates in CurrentMemoryContext;
 *		does not ereport except on out-of-memory.
 */
char *
pgapi_redact(PgApiConnection *conn, const char *text)
{
	size_t		len;

	if (text == NULL)
		return NULL;
	return redact_buffer(conn, text, strlen(text), &len);
}

/*
 * Redacted, escaped text of s[0..len) limited to maxlen bytes, appended to
 * buf.  Redaction comes first so that truncation never leaves part of a
 * secret behind.
 */
static void
append_api_text(StringInfo buf, PgApiConnection *conn, const char *s,
				size_t len, size_t maxlen)
{
	size_t		rlen;
	char	   *r;

	if (s == NULL)
		return;
	r = redact_buffer(conn, s, len, &rlen);
	append_escaped(buf, r, rlen, maxlen);
	pfree(r);
}

/* ----------------------------------------------------------------
 *		connection cache
 * ----------------------------------------------------------------
 */

/*
 * pgapi_http_init
 *		Called once from _PG_init: initialise libcurl (its own allocator,
 *		never palloc: R4) and register the syscache callbacks that
 *		invalidate cached connections.  ERROR if libcurl cannot start or is
 *		older than the options we need.
 */
void
pgapi_http_init(void)
{
	CURLcode	rc;
	curl_version_info_data *info;

	if (http_initialized)
		return;

	rc = curl_global_init(CURL_GLOBAL_ALL);
	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not initialize libcurl"),
				 errdetail_internal("%s", curl_easy_strerror(rc))));

	/*
	 * CURLOPT_PROTOCOLS_STR needs 7.85, CURLOPT_QUICK_EXIT 7.87; TLS is not
	 * optional
	 */
	info = curl_version_info(CURLVERSION_NOW);
	if (info->version_num < 0x075700 || !(info->features & CURL_VERSION_SSL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("libcurl %s is not supported", info->version),
				 errdetail("pgapi_fdw needs libcurl 7.87 or later, built with TLS support.")));

	CacheRegisterSyscacheCallback(FOREIGNSERVEROID,
								  connection_inval_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID,
								  connection_inval_callback, (Datum) 0);
	http_initialized = true;
}

/*
 * Syscache callback: mark connections of a changed server or user mapping
 * invalidated (hashvalue 0: all).  Must not free anything: a transfer may
 * be using the connection.
 */
static void
connection_inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	PgApiConnection *conn;

	if (ConnectionHash == NULL)
		return;

	hash_seq_init(&scan, ConnectionHash);
	while ((conn = (PgApiConnection *) hash_seq_search(&scan)) != NULL)
	{
		if (!conn->valid)
			continue;
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID &&
			 conn->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID &&
			 conn->mapping_hashvalue == hashvalue))
			conn->invalidated = true;
	}
}

/* Free a string copy in CacheMemoryContext, wiping it first if secret. */
static void
free_copy(char **p, bool secret)
{
	if (*p == NULL)
		return;
	if (secret)
		explicit_bzero(*p, strlen(*p));
	pfree(*p);
	*p = NULL;
}

static char *
cache_strdup(const char *s)
{
	return s ? MemoryContextStrdup(CacheMemoryContext, s) : NULL;
}

/*
 * Free everything a connection holds.  Precondition: no request owns one
 * of its handles (nbusy == 0), so every handle is idle and detached.
 */
static void
connection_destroy(PgApiConnection *conn)
{
	Assert(conn->nbusy == 0 && conn->nattached == 0);

	while (conn->idle != NULL)
	{
		PgApiHandle *h = conn->idle;

		conn->idle = h->next_idle;
		curl_easy_cleanup(h->easy);
		pfree(h);
	}
	conn->nidle = 0;
	if (conn->multi)
		curl_multi_cleanup(conn->multi);
	conn->multi = NULL;

	free_copy(&conn->opts.url, false);
	free_copy(&conn->opts.ca_file, false);
	free_copy(&conn->opts.organization_id, false);
	free_copy(&conn->creds.key_id, true);
	free_copy(&conn->creds.key_secret, true);
	free_copy(&conn->creds.api_key, true);
	free_copy(&conn->basic_b64, true);
	free_copy(&conn->servername, false);
	conn->valid = false;
	conn->invalidated = false;
}

/*
 * ERROR unless a credential bound for an HTTP header holds printable ASCII
 * only (RELIABILITY C11).  The value never appears in the message, and the
 * statement is hidden from the log (C14).
 */
static void
check_header_value(const char *value, const char *option,
				   const char *servername)
{
	if (value == NULL)
		return;
	for (const char *p = value; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c < 0x20 || c > 0x7e)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" of the user mapping for server \"%s\" contains invalid characters",
							option, servername),
					 errdetail("Credentials may contain printable ASCII characters only."),
					 errhidestmt(true)));
	}
}

/* Two sets of server options are the same. */
static bool
options_equal(const PgApiServerOptions *a, const PgApiServerOptions *b)
{
	return a->serverid == b->serverid &&
		a->api == b->api &&
		strcmp(a->url ? a->url : "", b->url ? b->url : "") == 0 &&
		strcmp(a->ca_file ? a->ca_file : "",
			   b->ca_file ? b->ca_file : "") == 0 &&
		strcmp(a->organization_id ? a->organization_id : "",
			   b->organization_id ? b->organization_id : "") == 0 &&
		a->timeout_ms == b->timeout_ms &&
		a->connect_timeout_ms == b->connect_timeout_ms &&
		a->max_retries == b->max_retries &&
		a->max_response_bytes == b->max_response_bytes &&
		a->max_pages == b->max_pages &&
		a->page_size == b->page_size &&
		a->max_concurrency == b->max_concurrency &&
		a->requests_per_window == b->requests_per_window &&
		a->rate_window_ms == b->rate_window_ms &&
		a->cache_ttl_ms == b->cache_ttl_ms &&
		a->default_window_ms == b->default_window_ms;
}

/*
 * The response cache's owner key of a connection: the database, the user
 * mapping, and the row versions of the server and the mapping, so that
 * entries are never shared across user mappings (or databases, whose OIDs
 * overlap) and an ALTER SERVER or ALTER USER MAPPING, in any backend,
 * starts afresh.  Never 0, which means "every owner".
 */
static uint64
cache_owner_key(Oid umid, Oid serverid)
{
	uint32		parts[4];
	HeapTuple	tup;
	uint64		key;

	memset(parts, 0, sizeof(parts));
	parts[0] = MyDatabaseId;
	parts[1] = umid;
	tup = SearchSysCache1(FOREIGNSERVEROID, ObjectIdGetDatum(serverid));
	if (HeapTupleIsValid(tup))
	{
		parts[2] = HeapTupleHeaderGetRawXmin(tup->t_data);
		ReleaseSysCache(tup);
	}
	tup = SearchSysCache1(USERMAPPINGOID, ObjectIdGetDatum(umid));
	if (HeapTupleIsValid(tup))
	{
		parts[3] = HeapTupleHeaderGetRawXmin(tup->t_data);
		ReleaseSysCache(tup);
	}
	key = hash_bytes_extended((const unsigned char *) parts, sizeof(parts), 0);
	return key != 0 ? key : 1;
}

/*
 * Fill an invalid (destroyed or new) entry: read and validate credentials,
 * copy options, create the multi handle.  On ERROR the entry stays
 * invalid; whatever was copied is released at the next build.
 */
static void
connection_build(PgApiConnection *conn, UserMapping *user,
				 const PgApiServerOptions *opts)
{
	PgApiCredentials creds;
	ForeignServer *server = GetForeignServer(opts->serverid);

	Assert(!conn->valid);

	/* responses cached for the old server or mapping no longer apply */
	if (conn->cache_owner != 0)
		pgapi_cache_forget(conn->cache_owner);
	conn->cache_owner = 0;

	/* errors if the keys the API needs are missing (C15) */
	pgapi_get_credentials(user, opts->api, &creds);
	check_header_value(creds.key_id, "key_id", server->servername);
	check_header_value(creds.key_secret, "key_secret", server->servername);
	check_header_value(creds.api_key, "api_key", server->servername);
	if (creds.key_id && strchr(creds.key_id, ':') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" of the user mapping for server \"%s\" contains invalid characters",
						"key_id", server->servername),
				 errdetail("A key id may not contain a colon."),
				 errhidestmt(true)));

	/* leftovers of a build that failed half-way */
	connection_destroy(conn);

	conn->opts = *opts;
	conn->opts.url = cache_strdup(opts->url);
	conn->opts.ca_file = cache_strdup(opts->ca_file);
	conn->opts.organization_id = cache_strdup(opts->organization_id);
	conn->creds.umid = user->umid;
	conn->creds.key_id = cache_strdup(creds.key_id);
	conn->creds.key_secret = cache_strdup(creds.key_secret);
	conn->creds.api_key = cache_strdup(creds.api_key);
	conn->servername = cache_strdup(server->servername);
	if (creds.key_id && creds.key_secret)
	{
		char	   *plain = psprintf("%s:%s", creds.key_id, creds.key_secret);
		int			plen = strlen(plain);
		int			blen = pg_b64_enc_len(plen);
		char	   *b64 = MemoryContextAllocZero(CacheMemoryContext, blen + 1);

		if (pg_b64_encode(plain, plen, b64, blen) < 0)
			elog(ERROR, "could not encode credentials");
		conn->basic_b64 = b64;
		explicit_bzero(plain, plen);
		pfree(plain);
	}
	/* the caller's copies: wipe them, they hold secrets */
	free_copy(&creds.key_id, true);
	free_copy(&creds.key_secret, true);
	free_copy(&creds.api_key, true);

	conn->loopback = pgapi_is_loopback_url(conn->opts.url);
	conn->server_hashvalue =
		GetSysCacheHashValue1(FOREIGNSERVEROID,
							  ObjectIdGetDatum(opts->serverid));
	conn->mapping_hashvalue =
		GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(user->umid));

	conn->multi = curl_multi_init();
	if (conn->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));

	/* the APIs limit per key: one shared bucket per API, URL and key */
	{
		StringInfoData id;

		initStringInfo(&id);
		appendStringInfo(&id, "%d|%s|%s", (int) conn->opts.api, conn->opts.url,
						 conn->creds.key_id ? conn->creds.key_id :
						 conn->creds.api_key ? conn->creds.api_key : "");
		conn->rate_key = hash_bytes_extended((const unsigned char *) id.data,
											 id.len, 0);
		explicit_bzero(id.data, id.len);
		pfree(id.data);
	}
	conn->cache_owner = cache_owner_key(user->umid, opts->serverid);
	memset(&conn->rate, 0, sizeof(conn->rate));
	conn->invalidated = false;
	conn->valid = true;
}

/*
 * pgapi_get_connection
 *		The cached connection of a user mapping, built or rebuilt as needed
 *		(server or mapping changed, or options differ).  A connection in
 *		use by an open queue is kept as it is: an open scan keeps its key
 *		(K5).  Lives in CacheMemoryContext for the backend's life.  Reads
 *		the credentials (at execution only, C4); ERROR when they are
 *		missing or hold characters not allowed in a header (C11).
 */
PgApiConnection *
pgapi_get_connection(UserMapping *user, const PgApiServerOptions *opts)
{
	PgApiConnection *conn;
	bool		found;

	if (!http_initialized)
		elog(ERROR, "pgapi_fdw HTTP layer is not initialized");

	if (ConnectionHash == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PgApiConnection);
		ctl.hcxt = CacheMemoryContext;
		ConnectionHash = hash_create("pgapi_fdw connections", 8, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	conn = (PgApiConnection *) hash_search(ConnectionHash, &user->umid,
										   HASH_ENTER, &found);
	if (!found)
	{
		Oid			umid = conn->umid;

		MemSet(conn, 0, sizeof(*conn));
		conn->umid = umid;
	}

	if (conn->valid && conn->nqueues == 0 && conn->nbusy == 0 &&
		(conn->invalidated || !options_equal(&conn->opts, opts)))
		connection_destroy(conn);

	if (!conn->valid)
		connection_build(conn, user, opts);
	return conn;
}

/* ----------------------------------------------------------------
 *		client-side rate limit
 *
 * At most requests_per_window requests in any rate_window_ms, per API key:
 * shared by all backends when preloaded (ratelimit.c), else per connection
 * and backend.
 * ----------------------------------------------------------------
 */

/* Let a request through if the limit allows it; always when it is off. */
static bool
rate_acquire(PgApiConnection *conn, double now)
{
	double		wait;

	if (conn->opts.requests_per_window <= 0)
		return true;
	if (!pgapi_ratelimit_shared(conn->rate_key, conn->opts.requests_per_window,
								conn->opts.rate_window_ms, true, &wait))
		pgapi_ratewindow(&conn->rate, conn->opts.requests_per_window,
						 conn->opts.rate_window_ms, now, true, &wait);
	return wait == 0;
}

/* Milliseconds until the limit lets a request through; 0 when it is off. */
static double
rate_time_to_token(PgApiConnection *conn, double now)
{
	double		wait;

	if (conn->opts.requests_per_window <= 0)
		return 0;
	if (!pgapi_ratelimit_shared(conn->rate_key, conn->opts.requests_per_window,
								conn->opts.rate_window_ms, false, &wait))
		pgapi_ratewindow(&conn->rate, conn->opts.requests_per_window,
						 conn->opts.rate_window_ms, now, false, &wait);
	return wait;
}

/* ----------------------------------------------------------------
 *		libcurl callbacks: no ereport, palloc, appendStringInfo or
 *		CHECK_FOR_INTERRUPTS in here (R2)
 * ----------------------------------------------------------------
 */

/*
 * Append body bytes to the malloc'd buffer, keeping it NUL-terminated.
 * Over max_response_bytes (decoded bytes, R1) or out of memory: set a
 * flag and fail the transfer.
 */
static size_t
write_callback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	PgApiReqState *st = (PgApiReqState *) userdata;
	size_t		n = size * nmemb;

	if (n > st->max_bytes || st->len > st->max_bytes - n)
	{
		st->too_large = true;
		return CURL_WRITEFUNC_ERROR;
	}
	if (st->len + n + 1 > st->cap)
	{
		size_t		newcap = Max(st->cap * 2, 8192);
		char	   *p;

		while (newcap < st->len + n + 1)
			newcap *= 2;
		newcap = Min(newcap, st->max_bytes + 1);
		p = realloc(st->buf, newcap);
		if (p == NULL)
		{
			st->no_memory = true;
			return CURL_WRITEFUNC_ERROR;
		}
		st->buf = p;
		st->cap = newcap;
	}
	memcpy(st->buf + st->len, ptr, n);
	st->len += n;
	st->buf[st->len] = '\0';
	return n;
}

/*
 * One header line for headers.c (R2: it neither allocates nor ereports).
 */
static size_t
header_callback(char *buffer, size_t size, size_t nitems, void *userdata)
{
	PgApiReqState *st = (PgApiReqState *) userdata;

	pgapi_headers_line(&st->hdr, buffer, size * nitems);
	return size * nitems;
}

/*
 * Abort the transfer when a cancel or terminate is pending (N1); the
 * ERROR comes from CHECK_FOR_INTERRUPTS() once libcurl has returned.
 */
static int
progress_callback(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
				  curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

/* ----------------------------------------------------------------
 *		easy handles
 * ----------------------------------------------------------------
 */

/*
 * Lend an easy handle of conn to st: an idle one or a new one.  ERROR if
 * libcurl cannot make one (st owns nothing yet then).
 */
static PgApiHandle *
acquire_handle(PgApiConnection *conn, PgApiReqState *st)
{
	PgApiHandle *h = conn->idle;

	if (h != NULL)
	{
		conn->idle = h->next_idle;
		conn->nidle--;
	}
	else
	{
		CURL	   *easy = curl_easy_init();

		if (easy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		h = MemoryContextAllocZero(CacheMemoryContext, sizeof(PgApiHandle));
		h->easy = easy;
	}
	h->next_idle = NULL;
	h->owner = st;
	h->attached = false;
	h->finished = false;
	h->result = CURLE_OK;
	h->errbuf[0] = '\0';
	st->handle = h;
	st->conn = conn;
	conn->nbusy++;
	return h;
}

/*
 * Take the handle back from st: detach it from the multi (aborting a
 * transfer in progress), forget every pointer into palloc'd memory with
 * curl_easy_reset (the connection pool stays with the multi), and keep it
 * idle, or clean it up when max_concurrency are idle already.  Never
 * errors; safe in reset callbacks and PG_CATCH.
 */
static void
release_handle(PgApiReqState *st)
{
	PgApiHandle *h = st->handle;
	PgApiConnection *conn = st->conn;

	if (h == NULL)
		return;
	if (h->attached)
	{
		curl_multi_remove_handle(conn->multi, h->easy);
		h->attached = false;
		conn->nattached--;
	}
	curl_easy_reset(h->easy);
	h->owner = NULL;
	h->finished = false;
	st->handle = NULL;
	conn->nbusy--;

	if (conn->nidle < Max(conn->opts.max_concurrency, 1))
	{
		h->next_idle = conn->idle;
		conn->idle = h;
		conn->nidle++;
	}
	else
	{
		curl_easy_cleanup(h->easy);
		pfree(h);
	}
}

/* Free the body of the last transfer, if any. */
static void
reset_transfer_state(PgApiReqState *st)
{
	free(st->buf);
	st->buf = NULL;
	st->len = st->cap = 0;
	st->too_large = false;
	st->no_memory = false;
	pgapi_headers_reset(&st->hdr);
}

/* Append a header to st->headers; ERROR (list kept for cleanup) on OOM. */
static void
add_header(PgApiReqState *st, const char *line)
{
	struct curl_slist *l = curl_slist_append(st->headers, line);

	if (l == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	st->headers = l;
}

/*
 * Set every option of one transfer on h (RELIABILITY C7-C11, C15, N2,
 * N4, N6, R1, R6).  Strings handed over are copied by libcurl except the
 * body, which lives as long as the request.  May ERROR; st then owns the
 * handle and the header list, and cleanup frees them.
 */
static void
setup_transfer(PgApiConnection *conn, PgApiRequest *req, PgApiReqState *st,
			   PgApiHandle *h, double now)
{
	CURL	   *e = h->easy;
	const PgApiServerOptions *opts = &conn->opts;
	double		left = st->deadline - now;
	long		timeout = (long) Max(left, 1.0);
	long		ctimeout = Min((long) Max(opts->connect_timeout_ms, 1), timeout);
	char	   *url;

	curl_easy_reset(e);
	curl_slist_free_all(st->headers);
	st->headers = NULL;

	CHECK_SETOPT(e, CURLOPT_PRIVATE, (void *) h);
	CHECK_SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	CHECK_SETOPT(e, CURLOPT_ERRORBUFFER, h->errbuf);

	url = psprintf("%s%s", opts->url, req->path);
	CHECK_SETOPT(e, CURLOPT_URL, url);
	pfree(url);

	/* HTTPS only; plain HTTP to loopback test servers (C7) */
	CHECK_SETOPT(e, CURLOPT_PROTOCOLS_STR, conn->loopback ? "https,http" : "https");
	CHECK_SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	CHECK_SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);	/* C8 */
	CHECK_SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);	/* C10 */
	CHECK_SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
	CHECK_SETOPT(e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
	/* a private CA: trust exactly that bundle (superuser option, C6) */
	if (opts->ca_file)
	{
		CHECK_SETOPT(e, CURLOPT_CAINFO, opts->ca_file);
		CHECK_SETOPT(e, CURLOPT_CAPATH, (char *) NULL);
	}
	/* no ambient proxy or .netrc (C15) */
	CHECK_SETOPT(e, CURLOPT_PROXY, "");
	CHECK_SETOPT(e, CURLOPT_NOPROXY, "*");
	CHECK_SETOPT(e, CURLOPT_NETRC, (long) CURL_NETRC_IGNORED);

	/* bounded in time (N4) */
	CHECK_SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, ctimeout);
	CHECK_SETOPT(e, CURLOPT_TIMEOUT_MS, timeout);
	CHECK_SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	CHECK_SETOPT(e, CURLOPT_LOW_SPEED_TIME, 10L);
	CHECK_SETOPT(e, CURLOPT_MAXLIFETIME_CONN, 300L);	/* R6 */

	/*
	 * A transfer given up while its name is being resolved (timeout, cancel,
	 * an error elsewhere in the queue) must not wait for getaddrinfo():
	 * without this, removing the handle joins libcurl's resolver thread,
	 * and a name server that never answers blocks the backend, deaf to
	 * statement_timeout and cancel, for the resolver's whole retry time
	 * (F32).  The thread is detached instead and frees itself when the
	 * lookup ends.
	 */
	CHECK_SETOPT(e, CURLOPT_QUICK_EXIT, 1L);

	/* decoded bodies, so the size cap counts what we store (R1) */
	CHECK_SETOPT(e, CURLOPT_ACCEPT_ENCODING, "");
	CHECK_SETOPT(e, CURLOPT_USERAGENT, PGAPI_USER_AGENT);

	CHECK_SETOPT(e, CURLOPT_WRITEFUNCTION, write_callback);
	CHECK_SETOPT(e, CURLOPT_WRITEDATA, (void *) st);
	CHECK_SETOPT(e, CURLOPT_HEADERFUNCTION, header_callback);
	CHECK_SETOPT(e, CURLOPT_HEADERDATA, (void *) st);
	CHECK_SETOPT(e, CURLOPT_XFERINFOFUNCTION, progress_callback);
	CHECK_SETOPT(e, CURLOPT_XFERINFODATA, (void *) st);
	CHECK_SETOPT(e, CURLOPT_NOPROGRESS, 0L);

	add_header(st, req->expect_text ? "Accept: text/plain" :
			   "Accept: application/json");
	/* no "Expect: 100-continue" round trip for larger bodies */
	add_header(st, "Expect:");

	switch (req->method)
	{
		case PGAPI_GET:
			CHECK_SETOPT(e, CURLOPT_HTTPGET, 1L);
			break;
		case PGAPI_POST:
			CHECK_SETOPT(e, CURLOPT_POST, 1L);
			break;
		case PGAPI_PATCH:
		case PGAPI_DELETE:
			CHECK_SETOPT(e, CURLOPT_CUSTOMREQUEST, pgapi_method_name(req->method));
			break;
	}
	if (req->body != NULL)
	{
		CHECK_SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
		CHECK_SETOPT(e, CURLOPT_POSTFIELDS, req->body);
		add_header(st, "Content-Type: application/json");
	}
	else if (req->method == PGAPI_POST)
	{
		CHECK_SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
		CHECK_SETOPT(e, CURLOPT_POSTFIELDS, "");
	}

	/* a write never rides a kept-alive connection libcurl could replay (N6) */
	if (!req->idempotent)
		CHECK_SETOPT(e, CURLOPT_FRESH_CONNECT, 1L);

	/* credentials: basic auth through libcurl, never a hand-built header */
	if (conn->opts.api == PGAPI_CLICKHOUSE)
	{
		CHECK_SETOPT(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		CHECK_SETOPT(e, CURLOPT_USERNAME, conn->creds.key_id);
		CHECK_SETOPT(e, CURLOPT_PASSWORD, conn->creds.key_secret);
	}
	else
	{
		char	   *auth = psprintf("Authorization: Token %s", conn->creds.api_key);

		add_header(st, auth);
		explicit_bzero(auth, strlen(auth));
		pfree(auth);
	}
	CHECK_SETOPT(e, CURLOPT_HTTPHEADER, st->headers);
}

/* ----------------------------------------------------------------
 *		requests
 * ----------------------------------------------------------------
 */

/*
 * Reset callback of a request's context: free what is not palloc'd and
 * give the easy handle back, detaching it from the multi.  Unlinks the
 * request from its queue, which may outlive it.  Never errors.
 */
static void
request_reset_callback(void *arg)
{
	PgApiReqState *st = (PgApiReqState *) arg;
	PgApiRequest *req = st->req;

	if (st->queue != NULL)
	{
		st->queue->reqs[st->qindex] = NULL;
		st->queue = NULL;
	}
	release_handle(st);
	curl_slist_free_all(st->headers);
	st->headers = NULL;
	free(st->buf);
	st->buf = NULL;
	free(req->data);
	req->data = NULL;
}

/*
 * pgapi_request_new
 *		A new request, palloc0'd in cxt, which owns it and everything it
 *		gets (the response buffer is malloc'd and freed by a reset callback
 *		on cxt).  GET is idempotent; set idempotent for GraphQL queries.
 *		Never pfree a request: it goes with its context.
 */
PgApiRequest *
pgapi_request_new(MemoryContext cxt, PgApiMethod method, const char *path)
{
	PgApiRequest *req = MemoryContextAllocZero(cxt, sizeof(PgApiRequest));
	PgApiReqState *st = MemoryContextAllocZero(cxt, sizeof(PgApiReqState));

	req->method = method;
	req->path = MemoryContextStrdup(cxt, path ? path : "");
	req->idempotent = (method == PGAPI_GET);
	req->priv = st;

	st->req = req;
	st->phase = PGAPI_REQ_IDLE;
	st->cb.func = request_reset_callback;
	st->cb.arg = st;
	MemoryContextRegisterResetCallback(cxt, &st->cb);
	return req;
}

/* ----------------------------------------------------------------
 *		outcome to SQLSTATE
 * ----------------------------------------------------------------
 */

/*
 * Could a failed transfer have delivered the request to the server?
 * False only for failures before the request was sent: resolving,
 * connecting, the TLS handshake, or a timeout before the transfer began.
 */
static bool
may_have_been_sent(CURLcode rc, CURL *easy)
{
	switch (rc)
	{
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_INVALIDCERTSTATUS:
		case CURLE_SSL_CRL_BADFILE:
			return false;
		case CURLE_OPERATION_TIMEDOUT:
			{
				curl_off_t	pretransfer = 0;

				curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
				return pretransfer > 0;
			}
		default:
			return true;
	}
}

/* May an idempotent request be retried after this transport failure? */
static bool
transport_retryable(CURLcode rc, bool got_bytes)
{
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
			return true;
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
			return !got_bytes;
		default:
			return false;
	}
}

/*
 * Classify a finished transfer.  *retry says whether an idempotent request
 * may try again.
 */
static PgApiOutcome
classify(PgApiRequest *req, PgApiReqState *st, CURLcode rc, long status,
		 bool got_bytes, bool *retry)
{
	*retry = false;

	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return PGAPI_OUT_INTERRUPTED;
	if (st->too_large)
		return PGAPI_OUT_TOO_LARGE;
	if (st->no_memory)
		return PGAPI_OUT_NO_MEMORY;
	if (rc != CURLE_OK)
	{
		if (!req->idempotent && may_have_been_sent(rc, st->handle->easy))
			return PGAPI_OUT_WRITE_UNKNOWN;
		*retry = req->idempotent && transport_retryable(rc, got_bytes);
		return PGAPI_OUT_TRANSPORT;
	}

	if (status >= 200 && status < 300)
	{
		if (status == 204)
			return PGAPI_OUT_OK;
		if (st->hdr.ctype != (req->expect_text ? PGAPI_CT_TEXT : PGAPI_CT_JSON))
			return PGAPI_OUT_CONTENT_TYPE;
		return PGAPI_OUT_OK;
	}
	if (status >= 300 && status < 400)
		return PGAPI_OUT_REDIRECT;
	if (status == 401 || status == 403)
		return PGAPI_OUT_AUTH;
	if (status == 404)
		return req->allow_404 ? PGAPI_OUT_NOT_FOUND_OK : PGAPI_OUT_NOT_FOUND;
	if (status == 409)
		return PGAPI_OUT_CONFLICT;
	if (status == 429 || status == 500 || status == 502 || status == 503 ||
		status == 504)
	{
		/* a write that reached a failing server may have been applied */
		if (!req->idempotent && status != 429)
			return PGAPI_OUT_WRITE_UNKNOWN;
		*retry = req->idempotent;
		return PGAPI_OUT_THROTTLED;
	}
	if (status >= 400 && status < 500)
		return PGAPI_OUT_CLIENT;
	if (status >= 500 && status < 600)
		return PGAPI_OUT_SERVER;
	return PGAPI_OUT_STATUS;
}

/* The API's error text: message, code and requestId, bounded (B12). */
static void
append_api_detail(StringInfo buf, PgApiConnection *conn, PgApiRequest *req)
{
	char	   *message = NULL;
	char	   *request_id = NULL;
	char	   *code = NULL;
	size_t		start = buf->len;

	if (req->data != NULL && req->data_len > 0)
		pgapi_json_error_fields(req->data, req->data_len, &message,
								&request_id, &code);
	if (message != NULL)
		append_api_text(buf, conn, message, strlen(message),
						PGAPI_DETAIL_MAX - 256);
	else if (req->data != NULL && req->data_len > 0)
		append_api_text(buf, conn, req->data, req->data_len,
						PGAPI_DETAIL_MAX - 256);
	if (code != NULL)
	{
		appendStringInfoString(buf, (size_t) buf->len > start ? " (code " : "(code ");
		append_api_text(buf, conn, code, strlen(code), 96);
		appendStringInfoChar(buf, ')');
	}
	if (request_id != NULL)
	{
		appendStringInfoString(buf, (size_t) buf->len > start ? " requestId: " : "requestId: ");
		append_api_text(buf, conn, request_id, strlen(request_id), 128);
	}
}

/*
 * pgapi_http_error_detail
 *		The API's error text of a completed request for DETAIL, as the HTTP
 *		layer reports it for error statuses: message, code and requestId,
 *		escaped, with the secrets of the connection it ran on redacted (C3),
 *		at most PGAPI_DETAIL_MAX bytes (B12); the raw body (same treatment)
 *		when it has no message.  For envelopes that carry an error under a
 *		2xx status (RELIABILITY B8).  palloc'd; ereports only on OOM.
 */
char *
pgapi_http_error_detail(PgApiRequest *req)
{
	PgApiReqState *st = (PgApiReqState *) req->priv;
	StringInfoData buf;

	initStringInfo(&buf);
	append_api_detail(&buf, st ? st->conn : NULL, req);
	if (buf.len > PGAPI_DETAIL_MAX)
	{
		buf.len = pg_mbcliplen(buf.data, buf.len, PGAPI_DETAIL_MAX - 3);
		buf.data[buf.len] = '\0';
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/*
 * curl's error text names the peer ("Failed to connect to 10.0.0.7 port
 * 8443 after 3 ms"); messages carry no host:port (RELIABILITY C3, found by
 * src/test/faults.py F1/F2), so "HOST port N" becomes "the server".
 */
static char *
strip_peer_address(const char *s)
{
	StringInfoData b;
	const char *p = s;

	initStringInfo(&b);
	for (;;)
	{
		const char *q = strstr(p, " port ");
		const char *h;

		if (q == NULL)
		{
			appendStringInfoString(&b, p);
			break;
		}
		if (!isdigit((unsigned char) q[6]))
		{
			appendBinaryStringInfo(&b, p, (int) (q + 6 - p));
			p = q + 6;
			continue;
		}
		h = q;
		while (h > p && h[-1] != ' ')
			h--;
		appendBinaryStringInfo(&b, p, (int) (h - p));
		appendStringInfoString(&b, "the server");
		p = q + 6;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return b.data;
}

/*
 * Raise the ERROR of a failed request from outcome_table (DESIGN.md
 * "Errors", RELIABILITY section 2).  The primary message is ours; API and
 * curl text go to DETAIL only, escaped, redacted and bounded.  curl_text is
 * curl's error text for transport failures; asked_wait > 0 says the API
 * asked for a retry wait longer than the time left.
 */
static void
report_failure(PgApiConnection *conn, PgApiRequest *req, PgApiOutcome out,
			   const char *curl_text, double asked_wait)
{
	const PgApiOutcomeInfo *info = &outcome_table[out];
	PgApiReqState *st = (PgApiReqState *) req->priv;
	const char *api = api_display_name(conn->opts.api);
	StringInfoData detail;
	char	   *hint = NULL;

	Assert(info->message != NULL);

	/* our sentences first, the API's or curl's text last */
	initStringInfo(&detail);
	switch (info->detail)
	{
		case PGAPI_DETAIL_NONE:
		case PGAPI_DETAIL_API:
			break;
		case PGAPI_DETAIL_CURL:
			if (out != PGAPI_OUT_WRITE_UNKNOWN)
				break;
			if (curl_text)
				appendStringInfoString(&detail,
									   "The connection failed after the request may have been sent, so the change may or may not have been applied.");
			else
				appendStringInfo(&detail,
								 "The API returned %ld, so the change may or may not have been applied.",
								 req->status);
			break;
		case PGAPI_DETAIL_REDIRECT:
			appendStringInfoString(&detail, "Redirects are never followed.");
			break;
		case PGAPI_DETAIL_TOO_LARGE:
			appendStringInfo(&detail,
							 "The response body is larger than max_response_bytes (" INT64_FORMAT " bytes).",
							 conn->opts.max_response_bytes);
			break;
		case PGAPI_DETAIL_EXCERPT:
			appendStringInfo(&detail, "Status %ld, content type \"", req->status);
			append_escaped(&detail, st->hdr.ctype_text, strlen(st->hdr.ctype_text),
						   80);
			appendStringInfo(&detail, "\", expected \"%s\"; the body begins: \"",
							 req->expect_text ? "text/plain" : "application/json");
			append_api_text(&detail, conn, req->data ? req->data : "",
							req->data_len, PGAPI_EXCERPT_MAX);
			appendStringInfoChar(&detail, '"');
			break;
	}
	if (req->attempts > 1)
		appendStringInfo(&detail, "%sGave up after %d attempts.",
						 detail.len > 0 ? " " : "", req->attempts);
	if (asked_wait > 0)
		appendStringInfo(&detail,
						 "%sThe API asked to wait %.0f ms before retrying, longer than the time left.",
						 detail.len > 0 ? " " : "", asked_wait);
	if (out == PGAPI_OUT_WRITE_UNKNOWN && req->correlation != NULL)
		appendStringInfo(&detail, "%sThe request carried the tag %s.",
						 detail.len > 0 ? " " : "", req->correlation);
	if (info->detail == PGAPI_DETAIL_CURL || info->detail == PGAPI_DETAIL_API)
	{
		if (detail.len > 0)
			appendStringInfoChar(&detail, ' ');
		if (curl_text)
			append_api_text(&detail, conn, curl_text, strlen(curl_text),
							PGAPI_DETAIL_MAX - 256);
		else
			append_api_detail(&detail, conn, req);
	}
	while (detail.len > 0 && detail.data[detail.len - 1] == ' ')
		detail.data[--detail.len] = '\0';
	if (detail.len > PGAPI_DETAIL_MAX)
	{
		detail.len = pg_mbcliplen(detail.data, detail.len, PGAPI_DETAIL_MAX - 3);
		detail.data[detail.len] = '\0';
		appendStringInfoString(&detail, "...");
	}

	switch (info->hint)
	{
		case PGAPI_HINT_NONE:
			break;
		case PGAPI_HINT_AUTH:
			hint = psprintf(conn->opts.api == PGAPI_CLICKHOUSE ?
							_("Check the options key_id and key_secret of the user mapping for server \"%s\".") :
							_("Check the option api_key of the user mapping for server \"%s\"."),
							conn->servername);
			break;
		case PGAPI_HINT_RETRY:
			hint = psprintf(_("Retry later, or lower the options max_concurrency or requests_per_window of server \"%s\"."),
							conn->servername);
			break;
		case PGAPI_HINT_MAX_BYTES:
			hint = psprintf(_("Raise the option max_response_bytes of server \"%s\", or narrow the query."),
							conn->servername);
			break;
		case PGAPI_HINT_URL:
			hint = psprintf(_("Check the option url of server \"%s\"."),
							conn->servername);
			break;
		case PGAPI_HINT_CHECK_STATE:
			hint = req->unknown_hint ? pstrdup(req->unknown_hint) :
				pstrdup(_("Check the state of the remote object before repeating the change."));
			break;
	}

	ereport(ERROR,
			(errcode(info->sqlerrcode),
			 errmsg(info->message, api, req->status),
			 detail.len > 0 ? errdetail_internal("%s", detail.data) : 0,
			 hint ? errhint("%s", hint) : 0,
			 errcontext("remote request: %s %s",
						pgapi_method_name(req->method), display_path(req))));
}

/* ----------------------------------------------------------------
 *		retries
 * ----------------------------------------------------------------
 */

/* Full-jitter exponential backoff before retry number n (1-based). */
static double
backoff_ms(int n)
{
	double		cap = PGAPI_BACKOFF_BASE_MS * pow(2.0, Min(n - 1, 16));

	cap = Min(cap, PGAPI_BACKOFF_CAP_MS);
	return pg_prng_double(&pg_global_prng_state) * cap;
}

/* ----------------------------------------------------------------
 *		queue
 * ----------------------------------------------------------------
 */

/*
 * Detach every in-flight transfer of the queue and give the handles back;
 * those requests return to PENDING.  Never errors (PG_CATCH, callbacks).
 */
static void
queue_abort(PgApiHttpQueue *queue)
{
	for (int i = queue->head; i < queue->tail; i++)
	{
		PgApiRequest *req = queue->reqs[i];
		PgApiReqState *st;

		if (req == NULL)
			continue;
		st = (PgApiReqState *) req->priv;
		if (st->phase == PGAPI_REQ_RUNNING)
		{
			release_handle(st);
			reset_transfer_state(st);
			st->phase = PGAPI_REQ_PENDING;
		}
	}
}

/* Abort and unlink everything; the queue keeps no request or handle. */
static void
queue_shutdown(PgApiHttpQueue *queue)
{
	if (queue->closed)
		return;
	queue_abort(queue);
	for (int i = queue->head; i < queue->tail; i++)
	{
		PgApiRequest *req = queue->reqs[i];

		if (req != NULL)
		{
			PgApiReqState *st = (PgApiReqState *) req->priv;

			st->queue = NULL;
			if (st->phase != PGAPI_REQ_DONE)
				st->phase = PGAPI_REQ_IDLE;
			queue->reqs[i] = NULL;
		}
	}
	queue->head = queue->tail = 0;
	queue->closed = true;
	queue->conn->nqueues--;
}

/* Reset callback of the queue's context: never leave a handle attached. */
static void
queue_reset_callback(void *arg)
{
	queue_shutdown((PgApiHttpQueue *) arg);
}

/*
 * pgapi_queue_create
 *		A queue running requests on conn, palloc'd in CurrentMemoryContext.
 *		A reset callback on that context aborts its transfers, so an ERROR
 *		or a cancel never leaves a handle attached.  stats (may be NULL) is
 *		added to as transfers run.
 */
PgApiHttpQueue *
pgapi_queue_create(PgApiConnection *conn, PgApiStats *stats)
{
	PgApiHttpQueue *queue = palloc0(sizeof(PgApiHttpQueue));

	queue->conn = conn;
	queue->stats = stats ? stats : &queue->own_stats;
	queue->cap = 8;
	queue->reqs = palloc0(sizeof(PgApiRequest *) * queue->cap);
	queue->cb.func = queue_reset_callback;
	queue->cb.arg = queue;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &queue->cb);
	conn->nqueues++;
	return queue;
}

/*
 * pgapi_queue_add
 *		Append req; it starts when a slot is free and the rate limit allows,
 *		at the latest in pgapi_queue_next.  ERROR if the request is queued
 *		or done already, or its path holds bytes not allowed in a URL.
 */
void
pgapi_queue_add(PgApiHttpQueue *queue, PgApiRequest *req)
{
	PgApiReqState *st = (PgApiReqState *) req->priv;

	if (queue->closed || queue->failed)
		elog(ERROR, "pgapi_fdw request queue is closed");
	if (st == NULL || st->queue != NULL || st->phase != PGAPI_REQ_IDLE)
		elog(ERROR, "pgapi_fdw request is queued or done already");

	/* C11: nothing that could end the request line or add a header */
	for (const char *p = req->path; *p; p++)
		if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("request path contains characters not allowed in a URL")));

	if (queue->head == queue->tail)
		queue->head = queue->tail = 0;
	if (queue->tail == queue->cap)
	{
		queue->cap *= 2;
		queue->reqs = repalloc(queue->reqs,
							   sizeof(PgApiRequest *) * queue->cap);
	}
	st->queue = queue;
	st->qindex = queue->tail;
	st->conn = queue->conn;
	st->phase = PGAPI_REQ_PENDING;
	st->deadline = 0;
	st->rate_since = 0;
	queue->reqs[queue->tail++] = req;

	/* an identical read within cache_ttl_ms: answered, in queue order */
	if (req->idempotent && !req->no_cache && queue->conn->opts.cache_ttl_ms > 0)
	{
		char	   *data;
		size_t		len;
		long		status;

		if (pgapi_cache_lookup(queue->conn->cache_owner, req, &data, &len, &status))
		{
			free(req->data);
			req->data = data;
			req->data_len = len;
			req->status = status;
			req->from_cache = true;
			req->done = true;
			st->phase = PGAPI_REQ_DONE;
			queue->stats->cache_hits++;
		}
	}
}

/* Start one transfer of req. May ERROR (the request owns what it got). */
static void
start_transfer(PgApiHttpQueue *queue, PgApiRequest *req, double now)
{
	PgApiConnection *conn = queue->conn;
	PgApiReqState *st = (PgApiReqState *) req->priv;
	PgApiHandle *h;
	CURLMcode	mrc;

	reset_transfer_state(st);
	st->max_bytes = conn->opts.max_response_bytes > 0 ?
		(size_t) conn->opts.max_response_bytes : (size_t) 16 * 1024 * 1024;
	if (st->deadline == 0)
		st->deadline = now + Max(conn->opts.timeout_ms, 1);

	h = acquire_handle(conn, st);
	setup_transfer(conn, req, st, h, now);

	mrc = curl_multi_add_handle(conn->multi, h->easy);
	if (mrc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start a request to the %s",
						api_display_name(conn->opts.api)),
				 errdetail_internal("%s", curl_multi_strerror(mrc)),
				 errcontext("remote request: %s %s",
							pgapi_method_name(req->method), display_path(req))));
	h->attached = true;
	conn->nattached++;
	st->phase = PGAPI_REQ_RUNNING;
	req->attempts++;
	queue->stats->requests++;
}

/*
 * A retry whose turn came (its wait, then the rate limit's) with less
 * than PGAPI_MIN_ATTEMPT_MS of its timeout_ms left: give up with the
 * SQLSTATE of the outcome that was being retried and say why, rather than
 * start an attempt that can only time out ("timed out after 1
 * milliseconds", found by F30 in long mode: 20 sessions on one key).
 */
static void
retry_too_late(PgApiConnection *conn, PgApiRequest *req, PgApiReqState *st)
{
	const PgApiOutcomeInfo *info = &outcome_table[st->last_out];

	ereport(ERROR,
			(errcode(info->sqlerrcode ? info->sqlerrcode : ERRCODE_FDW_ERROR),
			 errmsg("request to the %s could not be retried within timeout_ms",
					api_display_name(conn->opts.api)),
			 st->last_status > 0 ?
			 errdetail_plural("Gave up after %d attempt, answered with status %ld: waiting for the retry and for the client-side rate limit used up the time left of timeout_ms (%d ms).",
							  "Gave up after %d attempts, the last answered with status %ld: waiting for the retry and for the client-side rate limit used up the time left of timeout_ms (%d ms).",
							  req->attempts, req->attempts, st->last_status,
							  conn->opts.timeout_ms) :
			 errdetail_plural("Gave up after %d attempt, which failed in transport: waiting for the retry and for the client-side rate limit used up the time left of timeout_ms (%d ms).",
							  "Gave up after %d attempts, the last failed in transport: waiting for the retry and for the client-side rate limit used up the time left of timeout_ms (%d ms).",
							  req->attempts, req->attempts, conn->opts.timeout_ms),
			 errhint("Retry later, or lower the options max_concurrency or requests_per_window of server \"%s\".",
					 conn->servername),
			 errcontext("remote request: %s %s",
						pgapi_method_name(req->method), display_path(req))));
}

/*
 * Start what may start, in FIFO order: at most max_concurrency transfers
 * of this queue, each when the rate limit allows.  *wait is lowered to the
 * time until something could start (a retry time, the rate limit).
 */
static void
start_ready(PgApiHttpQueue *queue, double now, double *wait)
{
	PgApiConnection *conn = queue->conn;
	int			running = 0;
	int			limit = Max(conn->opts.max_concurrency, 1);

	for (int i = queue->head; i < queue->tail; i++)
	{
		PgApiRequest *req = queue->reqs[i];

		if (req && ((PgApiReqState *) req->priv)->phase == PGAPI_REQ_RUNNING)
			running++;
	}

	for (int i = queue->head; i < queue->tail && running < limit; i++)
	{
		PgApiRequest *req = queue->reqs[i];
		PgApiReqState *st;

		if (req == NULL)
			continue;
		st = (PgApiReqState *) req->priv;
		if (st->phase == PGAPI_REQ_WAITING && st->start_at > now)
		{
			*wait = Min(*wait, st->start_at - now);
			continue;
		}
		if (st->phase != PGAPI_REQ_PENDING && st->phase != PGAPI_REQ_WAITING)
			continue;
		if (st->phase == PGAPI_REQ_WAITING &&
			st->deadline - now < PGAPI_MIN_ATTEMPT_MS)
			retry_too_late(conn, req, st);

		if (!rate_acquire(conn, now))
		{
			if (st->rate_since == 0)
				st->rate_since = now;
			*wait = Min(*wait, rate_time_to_token(conn, now));
			break;				/* FIFO: later requests wait too */
		}
		if (st->rate_since != 0)
		{
			queue->stats->rate_wait_ms += now - st->rate_since;
			st->rate_since = 0;
		}
		start_transfer(queue, req, now);
		running++;
	}
}

/*
 * Read libcurl's completion messages.  Handles of any queue on this
 * connection may finish here; each is detached and marked finished, and
 * its own queue evaluates it.
 */
static void
drain_messages(PgApiConnection *conn)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(conn->multi, &left)) != NULL)
	{
		char	   *priv = NULL;
		PgApiHandle *h;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		h = (PgApiHandle *) priv;
		if (h == NULL || !h->attached)
			continue;
		h->result = msg->data.result;
		h->finished = true;
		curl_multi_remove_handle(conn->multi, h->easy);
		h->attached = false;
		conn->nattached--;
	}
}

/*
 * Evaluate a finished transfer of req: complete it, schedule a retry, or
 * abort the queue and raise the request's ERROR.
 */
static void
finish_transfer(PgApiHttpQueue *queue, PgApiRequest *req)
{
	PgApiConnection *conn = queue->conn;
	PgApiReqState *st = (PgApiReqState *) req->priv;
	PgApiHandle *h = st->handle;
	CURLcode	rc = h->result;
	long		status = 0;
	long		header_size = 0;
	bool		retry;
	PgApiOutcome out;
	char	   *curl_text = NULL;
	double		too_long = 0;

	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h->easy, CURLINFO_HEADER_SIZE, &header_size);
	queue->stats->bytes += st->len;

	out = classify(req, st, rc, status, header_size > 0 || st->len > 0, &retry);

	if (retry && req->attempts <= conn->opts.max_retries)
	{
		double		now = now_ms();
		double		left = Min(st->deadline - now, statement_ms_left());
		double		asked = (out == PGAPI_OUT_THROTTLED) ?
			pgapi_headers_retry_wait(&st->hdr, time(NULL)) : -1;
		double		wait = asked >= 0 ? asked : backoff_ms(req->attempts);

		if (wait <= left)
		{
			release_handle(st);
			reset_transfer_state(st);
			st->phase = PGAPI_REQ_WAITING;
			st->start_at = now + wait;
			st->last_out = out;
			st->last_status = status;
			queue->stats->retries++;
			return;
		}
		/* fail at once rather than sleep past the budget (N5) */
		if (asked > 0)
			too_long = asked;
	}

	/* done, or failed: hand the body to the request either way */
	req->status = status;
	free(req->data);
	if (st->buf == NULL)
	{
		st->buf = malloc(1);
		if (st->buf == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		st->buf[0] = '\0';
	}
	req->data = st->buf;
	req->data_len = st->len;
	st->buf = NULL;
	st->len = st->cap = 0;

	if (out == PGAPI_OUT_OK || out == PGAPI_OUT_NOT_FOUND_OK)
	{
		if (out == PGAPI_OUT_OK && req->idempotent && !req->no_cache &&
			conn->opts.cache_ttl_ms > 0)
			pgapi_cache_store(conn->cache_owner, conn->opts.cache_ttl_ms, req,
							  req->data, req->data_len, status);
		release_handle(st);
		st->phase = PGAPI_REQ_DONE;
		req->done = true;
		return;
	}

	if (rc != CURLE_OK)
		curl_text = strip_peer_address(h->errbuf[0] ? h->errbuf :
									   curl_easy_strerror(rc));
	release_handle(st);
	st->phase = PGAPI_REQ_PENDING;
	queue_abort(queue);
	queue->failed = true;

	if (out == PGAPI_OUT_INTERRUPTED)
	{
		CHECK_FOR_INTERRUPTS();
		elog(ERROR, "pgapi_fdw transfer aborted without a pending interrupt");
	}
	report_failure(conn, req, out, curl_text, too_long);
}

/*
 * Wait for socket activity, a retry time or the rate limit, at most
 * PGAPI_POLL_MS, then process interrupts (outside libcurl, N1).  Reports
 * a wait event (R7).
 */
static void
queue_wait(PgApiConnection *conn, double wait)
{
	int			timeout = (int) ceil(Min(Max(wait, 1.0), PGAPI_POLL_MS));

	if (conn->nattached > 0)
	{
		CURLMcode	mrc;

		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		mrc = curl_multi_poll(conn->multi, NULL, 0, timeout, NULL);
		pgstat_report_wait_end();
		if (mrc != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not wait for a response from the %s",
							api_display_name(conn->opts.api)),
					 errdetail_internal("%s", curl_multi_strerror(mrc))));
	}
	else
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	CHECK_FOR_INTERRUPTS();
}

/*
 * One round of the loop: start, perform, evaluate finished transfers in
 * FIFO order, and (if may_wait) wait unless something moved or the oldest
 * is done.
 */
static void
queue_step(PgApiHttpQueue *queue, bool may_wait)
{
	PgApiConnection *conn = queue->conn;
	double		wait = PGAPI_POLL_MS;
	int			running;
	CURLMcode	mrc;
	bool		progressed = false;
	PgApiRequest *first;

	start_ready(queue, now_ms(), &wait);

	mrc = curl_multi_perform(conn->multi, &running);
	if (mrc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not run a request to the %s",
						api_display_name(conn->opts.api)),
				 errdetail_internal("%s", curl_multi_strerror(mrc))));
	drain_messages(conn);

	for (int i = queue->head; i < queue->tail; i++)
	{
		PgApiRequest *req = queue->reqs[i];
		PgApiReqState *st;

		if (req == NULL)
			continue;
		st = (PgApiReqState *) req->priv;
		if (st->phase == PGAPI_REQ_RUNNING && st->handle->finished)
		{
			finish_transfer(queue, req);
			progressed = true;
		}
	}

	if (!may_wait)
		return;
	first = queue->reqs[queue->head];
	if (progressed || (first != NULL && first->done))
		return;
	queue_wait(conn, wait);
}

/*
 * pgapi_queue_next
 *		Block until the oldest request added is complete and return it
 *		(FIFO); other requests keep progressing.  NULL when the queue is
 *		empty.  On the first hard failure of any of its requests, detach
 *		every in-flight transfer and ERROR with that request's SQLSTATE.
 *		Cancel and statement_timeout interrupt the wait (57014).
 */
PgApiRequest *
pgapi_queue_next(PgApiHttpQueue *queue)
{
	if (queue->closed || queue->failed)
		elog(ERROR, "pgapi_fdw request queue is closed");

	for (;;)
	{
		PgApiRequest *req;

		while (queue->head < queue->tail && queue->reqs[queue->head] == NULL)
			queue->head++;
		if (queue->head == queue->tail)
			return NULL;

		req = queue->reqs[queue->head];
		if (req->done)
		{
			PgApiReqState *st = (PgApiReqState *) req->priv;

			queue->reqs[queue->head++] = NULL;
			st->queue = NULL;
			return req;
		}

		PG_TRY();
		{
			queue_step(queue, true);
		}
		PG_CATCH();
		{
			queue_abort(queue);
			queue->failed = true;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
}

/*
 * pgapi_queue_poll
 *		Move the queue's transfers along without blocking: start what may
 *		start (slots and the rate limit permitting), let curl send and
 *		receive what the sockets hold, and evaluate finished transfers.
 *		A scan calls it while it turns the current page into rows, so that
 *		the next page is on its way meanwhile (pgapi_queue_add only queues).
 *		Errors as pgapi_queue_next, which it leaves the same state for.
 */
void
pgapi_queue_poll(PgApiHttpQueue *queue)
{
	if (queue->closed || queue->failed)
		elog(ERROR, "pgapi_fdw request queue is closed");

	while (queue->head < queue->tail && queue->reqs[queue->head] == NULL)
		queue->head++;
	if (queue->head == queue->tail)
		return;

	PG_TRY();
	{
		queue_step(queue, false);
	}
	PG_CATCH();
	{
		queue_abort(queue);
		queue->failed = true;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * pgapi_queue_pending
 *		Requests added and not yet returned by pgapi_queue_next.
 */
int
pgapi_queue_pending(PgApiHttpQueue *queue)
{
	int			n = 0;

	for (int i = queue->head; i < queue->tail; i++)
		if (queue->reqs[i] != NULL)
			n++;
	return n;
}

/*
 * pgapi_queue_close
 *		Abort in-flight transfers, give their handles back and forget the
 *		requests (they stay owned by their contexts).  Idempotent; the
 *		queue's memory goes with its context.
 */
void
pgapi_queue_close(PgApiHttpQueue *queue)
{
	queue_shutdown(queue);
}

/*
 * pgapi_http_run
 *		Run reqs concurrently (max_concurrency at a time) until all are
 *		complete; ERROR on the first hard failure.  Temporary state lives in
 *		a child of CurrentMemoryContext, deleted before returning.
 */
void
pgapi_http_run(PgApiConnection *conn, PgApiRequest **reqs, int nreqs,
			   PgApiStats *stats)
{
	MemoryContext cxt;
	MemoryContext oldcxt;
	PgApiHttpQueue *queue;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pgapi_fdw http run",
								ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	queue = pgapi_queue_create(conn, stats);
	for (int i = 0; i < nreqs; i++)
		pgapi_queue_add(queue, reqs[i]);
	MemoryContextSwitchTo(oldcxt);

	while (pgapi_queue_next(queue) != NULL)
		;
	MemoryContextDelete(cxt);	/* its callback closes the queue */
}

/*
 * pgapi_http_execute
 *		Run one request to completion; see pgapi_http_run.
 */
void
pgapi_http_execute(PgApiConnection *conn, PgApiRequest *req,
				   PgApiStats *stats)
{
	pgapi_http_run(conn, &req, 1, stats);
}

/*-------------------------------------------------------------------------
 *
 * cache.c
 *		  The response cache: identical reads within cache_ttl_ms are
 *		  answered from memory.
 *
 * Entries are keyed by the user mapping, the method, the path and the
 * body, so a response is never served to another user mapping (whose key
 * may see other data).  The cache lives in the backend (it is not shared
 * between backends yet); it holds at most PGAPI_CACHE_MAX_ENTRIES entries
 * and PGAPI_CACHE_MAX_BYTES bytes of bodies, evicting the least recently
 * used.  Only successful (2xx) responses of idempotent requests are kept.
 * Bodies are malloc'd, like the HTTP layer's, and handed out as copies.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "portability/instr_time.h"

#include "pgapi_fdw.h"

#define PGAPI_CACHE_MAX_ENTRIES 256
#define PGAPI_CACHE_MAX_BYTES	(32 * 1024 * 1024)

typedef struct PgApiCacheEntry
{
	struct PgApiCacheEntry *prev;	/* LRU list, most recent first */
	struct PgApiCacheEntry *next;
	Oid			umid;
	uint32		hash;
	PgApiMethod method;
	char	   *path;			/* malloc'd */
	char	   *body;			/* malloc'd, or NULL */
	size_t		body_len;
	char	   *data;			/* malloc'd response body */
	size_t		data_len;
	long		status;
	double		expires_at;		/* monotonic ms */
} PgApiCacheEntry;

static PgApiCacheEntry *lru_head = NULL;
static PgApiCacheEntry *lru_tail = NULL;
static int	nentries = 0;
static size_t nbytes = 0;

PG_FUNCTION_INFO_V1(pgapi_fdw_cache_clear);

static double
monotonic_ms(void)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	return INSTR_TIME_GET_MILLISEC(now);
}

static uint32
request_hash(Oid umid, const PgApiRequest *req)
{
	uint32		h = hash_bytes_uint32((uint32) umid);

	h = hash_combine(h, hash_bytes_uint32((uint32) req->method));
	h = hash_combine(h, hash_bytes((const unsigned char *) req->path,
								   (int) strlen(req->path)));
	if (req->body)
		h = hash_combine(h, hash_bytes((const unsigned char *) req->body,
									   (int) req->body_len));
	return h;
}

static bool
entry_matches(const PgApiCacheEntry *e, Oid umid, uint32 hash,
			  const PgApiRequest *req)
{
	size_t		body_len = req->body ? req->body_len : 0;

	return e->umid == umid && e->hash == hash && e->method == req->method &&
		strcmp(e->path, req->path) == 0 && e->body_len == body_len &&
		(body_len == 0 || memcmp(e->body, req->body, body_len) == 0);
}

static void
unlink_entry(PgApiCacheEntry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void
push_front(PgApiCacheEntry *e)
{
	e->prev = NULL;
	e->next = lru_head;
	if (lru_head)
		lru_head->prev = e;
	lru_head = e;
	if (lru_tail == NULL)
		lru_tail = e;
}

static void
free_entry(PgApiCacheEntry *e)
{
	unlink_entry(e);
	nentries--;
	nbytes -= e->data_len;
	free(e->path);
	free(e->body);
	free(e->data);
	free(e);
}

/*
 * pgapi_cache_lookup
 *		A fresh copy (malloc'd; the caller owns it) of the cached response to
 *		an identical request of the same user mapping, if one is younger than
 *		its TTL.  Never ereports except for out of memory.
 */
bool
pgapi_cache_lookup(Oid umid, const PgApiRequest *req, char **data,
				   size_t *data_len, long *status)
{
	uint32		hash = request_hash(umid, req);
	double		now = monotonic_ms();

	for (PgApiCacheEntry *e = lru_head; e != NULL; e = e->next)
	{
		if (!entry_matches(e, umid, hash, req))
			continue;
		if (e->expires_at <= now)
		{
			free_entry(e);
			return false;
		}
		*data = malloc(e->data_len + 1);
		if (*data == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		memcpy(*data, e->data, e->data_len + 1);
		*data_len = e->data_len;
		*status = e->status;
		unlink_entry(e);
		push_front(e);
		return true;
	}
	return false;
}

/*
 * pgapi_cache_store
 *		Remember a successful response for ttl_ms.  Best effort: a body too
 *		large for the cache, or no memory, means it is simply not kept.
 */
void
pgapi_cache_store(Oid umid, int ttl_ms, const PgApiRequest *req,
				  const char *data, size_t data_len, long status)
{
	uint32		hash = request_hash(umid, req);
	PgApiCacheEntry *e;

	if (ttl_ms <= 0 || data_len > PGAPI_CACHE_MAX_BYTES / 4)
		return;

	/* replace an older entry for the same request */
	for (e = lru_head; e != NULL; e = e->next)
		if (entry_matches(e, umid, hash, req))
		{
			free_entry(e);
			break;
		}

	while (lru_tail && (nentries >= PGAPI_CACHE_MAX_ENTRIES ||
						nbytes + data_len > PGAPI_CACHE_MAX_BYTES))
		free_entry(lru_tail);

	e = calloc(1, sizeof(PgApiCacheEntry));
	if (e == NULL)
		return;
	e->umid = umid;
	e->hash = hash;
	e->method = req->method;
	e->path = strdup(req->path);
	e->body_len = req->body ? req->body_len : 0;
	e->body = e->body_len ? malloc(e->body_len) : NULL;
	e->data = malloc(data_len + 1);
	if (e->path == NULL || (e->body_len && e->body == NULL) || e->data == NULL)
	{
		free(e->path);
		free(e->body);
		free(e->data);
		free(e);
		return;
	}
	if (e->body_len)
		memcpy(e->body, req->body, e->body_len);
	memcpy(e->data, data, data_len);
	e->data[data_len] = '\0';
	e->data_len = data_len;
	e->status = status;
	e->expires_at = monotonic_ms() + ttl_ms;
	push_front(e);
	nentries++;
	nbytes += data_len;
}

/*
 * pgapi_cache_forget
 *		Drop the entries of one user mapping (InvalidOid: all), when its
 *		server or mapping changed.  Returns how many were dropped.
 */
int
pgapi_cache_forget(Oid umid)
{
	int			n = 0;
	PgApiCacheEntry *e = lru_head;

	while (e != NULL)
	{
		PgApiCacheEntry *next = e->next;

		if (!OidIsValid(umid) || e->umid == umid)
		{
			free_entry(e);
			n++;
		}
		e = next;
	}
	return n;
}

/*
 * pgapi_fdw_cache_clear
 *		SQL-callable: empty this backend's response cache; returns the number
 *		of entries dropped.
 */
Datum
pgapi_fdw_cache_clear(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(pgapi_cache_forget(InvalidOid));
}

/*-------------------------------------------------------------------------
 *
 * cache.c
 *		  The response cache: identical reads within cache_ttl_ms are
 *		  answered from memory.
 *
 * Entries are keyed by an owner (a hash of the database, the user mapping
 * and the row versions of the server and the mapping, see http.c), the
 * method, the path and the body, so a response is never served to another
 * user mapping (whose key may see other data), and an ALTER SERVER or
 * ALTER USER MAPPING starts afresh.  Only successful (2xx) responses of
 * idempotent requests are kept, and bodies are handed out as malloc'd
 * copies, like the HTTP layer's own.
 *
 * When the library is in shared_preload_libraries, the cache lives in
 * shared memory and serves every backend of the cluster: a fixed table of
 * PGAPI_CACHE_MAX_ENTRIES entries under one LWLock, whose keys and bodies
 * are kept in a DSA area created in place in the main shared memory
 * segment, pgapi_fdw.shared_cache_size large and never growing beyond it.
 * Otherwise (or with that setting 0) each backend keeps its own cache,
 * capped at PGAPI_CACHE_MAX_BYTES.  Either way the least recently used
 * entry goes first, and a body larger than a quarter of the cache is not
 * kept.
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
#include "miscadmin.h"
#include "port/atomics.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "pgapi_fdw.h"

#define PGAPI_CACHE_MAX_ENTRIES 256
#define PGAPI_CACHE_MAX_BYTES	(32 * 1024 * 1024)

/* ----------------------------------------------------------------
 *		The backend-local cache (library not preloaded)
 * ----------------------------------------------------------------
 */

typedef struct PgApiCacheEntry
{
	struct PgApiCacheEntry *prev;	/* LRU list, most recent first */
	struct PgApiCacheEntry *next;
	uint64		owner;
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

/* ----------------------------------------------------------------
 *		The shared cache (library preloaded)
 * ----------------------------------------------------------------
 */

typedef struct PgApiSharedEntry
{
	uint32		hash;
	bool		used;
	uint64		owner;
	PgApiMethod method;
	size_t		path_len;		/* the key: path, then body, in one chunk */
	size_t		body_len;
	size_t		data_len;
	dsa_pointer chunk;			/* path, body, data, NUL */
	long		status;
	double		expires_at;		/* monotonic ms (CLOCK_MONOTONIC is
								 * system-wide) */
	pg_atomic_uint64 last_used; /* LRU clock; written under a shared lock */
} PgApiSharedEntry;

typedef struct PgApiSharedCache
{
	LWLock	   *lock;			/* protects the entries and nbytes */
	int			dsa_tranche;
	size_t		area_size;
	pg_atomic_uint64 clock;
	size_t		nbytes;
	PgApiSharedEntry entries[PGAPI_CACHE_MAX_ENTRIES];
	char		area[FLEXIBLE_ARRAY_MEMBER];	/* the DSA area, in place */
} PgApiSharedCache;

StaticAssertDecl(offsetof(PgApiSharedCache, area) % MAXIMUM_ALIGNOF == 0,
				 "the DSA area must be aligned");

static int	shared_cache_kb = 16 * 1024;	/* pgapi_fdw.shared_cache_size */
static PgApiSharedCache *shared_cache = NULL;
static dsa_area *shared_area = NULL;	/* this backend's attachment */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(pgapi_fdw_cache_clear);

static double
monotonic_ms(void)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	return INSTR_TIME_GET_MILLISEC(now);
}

static uint32
request_hash(uint64 owner, const PgApiRequest *req)
{
	uint32		h = hash_bytes_uint32((uint32) owner);

	h = hash_combine(h, hash_bytes_uint32((uint32) (owner >> 32)));
	h = hash_combine(h, hash_bytes_uint32((uint32) req->method));
	h = hash_combine(h, hash_bytes((const unsigned char *) req->path,
								   (int) strlen(req->path)));
	if (req->body)
		h = hash_combine(h, hash_bytes((const unsigned char *) req->body,
									   (int) req->body_len));
	return h;
}

static size_t
shared_area_size(void)
{
	return (size_t) shared_cache_kb * 1024;
}

static Size
shared_cache_size(void)
{
	return add_size(offsetof(PgApiSharedCache, area), shared_area_size());
}

static void
cache_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	if (shared_cache_kb > 0)
	{
		RequestAddinShmemSpace(MAXALIGN(shared_cache_size()));
		RequestNamedLWLockTranche("pgapi_fdw cache", 1);
	}
}

/*
 * Create the table and the DSA area in place.  The area is pinned and
 * limited to its in-place size, so it never creates DSM segments and never
 * goes away; the postmaster then drops its own attachment, as pgstat does.
 */
static void
cache_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	if (shared_cache_kb <= 0)
		return;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_cache = ShmemInitStruct("pgapi_fdw response cache",
								   shared_cache_size(), &found);
	if (!found)
	{
		dsa_area   *area;

		memset(shared_cache, 0, offsetof(PgApiSharedCache, area));
		shared_cache->lock = &(GetNamedLWLockTranche("pgapi_fdw cache"))->lock;
		shared_cache->dsa_tranche = LWLockNewTrancheId();
		shared_cache->area_size = shared_area_size();
		pg_atomic_init_u64(&shared_cache->clock, 0);
		for (int i = 0; i < PGAPI_CACHE_MAX_ENTRIES; i++)
			pg_atomic_init_u64(&shared_cache->entries[i].last_used, 0);
		area = dsa_create_in_place(shared_cache->area,
								   shared_cache->area_size,
								   shared_cache->dsa_tranche, NULL);
		dsa_pin(area);
		dsa_set_size_limit(area, shared_cache->area_size);
		dsa_detach(area);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * pgapi_cache_init
 *		From _PG_init: the GUC, and shared memory when preloaded.
 */
void
pgapi_cache_init(void)
{
	/*
	 * PostgreSQL allows PGC_POSTMASTER variables only while preloading and
	 * ends the session with FATAL otherwise, so a plain CREATE EXTENSION or
	 * LOAD would fail (found by F32 of the fault matrix, whose second
	 * cluster does not preload).  Without preloading there is no shared
	 * cache to size.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("pgapi_fdw.shared_cache_size",
							"Size of the response cache shared by all backends.",
							"Used when pgapi_fdw is in shared_preload_libraries; "
							"0 gives each backend a cache of its own.",
							&shared_cache_kb,
							16 * 1024,
							0,
							1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	if (shared_cache_kb > 0 && shared_cache_kb * (Size) 1024 < dsa_minimum_size())
		shared_cache_kb = (int) ((dsa_minimum_size() + 1023) / 1024);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = cache_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = cache_shmem_startup;
}

/*
 * The shared area, attached on first use; NULL when there is no shared
 * cache.
 */
static dsa_area *
shared_cache_area(void)
{
	if (shared_cache == NULL)
		return NULL;
	if (shared_area == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		LWLockRegisterTranche(shared_cache->dsa_tranche, "pgapi_fdw cache area");
		shared_area = dsa_attach_in_place(shared_cache->area, NULL);
		dsa_pin_mapping(shared_area);
		MemoryContextSwitchTo(old);
	}
	return shared_area;
}

static bool
shared_entry_matches(dsa_area *area, const PgApiSharedEntry *e, uint64 owner,
					 uint32 hash, const PgApiRequest *req, size_t path_len,
					 size_t body_len)
{
	const char *key;

	if (!e->used || e->hash != hash || e->owner != owner ||
		e->method != req->method || e->path_len != path_len ||
		e->body_len != body_len)
		return false;
	key = dsa_get_address(area, e->chunk);
	return memcmp(key, req->path, path_len) == 0 &&
		(body_len == 0 || memcmp(key + path_len, req->body, body_len) == 0);
}

/* Free one entry; the caller holds the lock exclusively. */
static void
shared_free_entry(dsa_area *area, PgApiSharedEntry *e)
{
	dsa_free(area, e->chunk);
	shared_cache->nbytes -= e->path_len + e->body_len + e->data_len + 1;
	e->used = false;
	e->chunk = InvalidDsaPointer;
}

/* The least recently used entry in use, or NULL. */
static PgApiSharedEntry *
shared_lru_entry(void)
{
	PgApiSharedEntry *victim = NULL;
	uint64		oldest = PG_UINT64_MAX;

	for (int i = 0; i < PGAPI_CACHE_MAX_ENTRIES; i++)
	{
		PgApiSharedEntry *e = &shared_cache->entries[i];
		uint64		used_at;

		if (!e->used)
			continue;
		used_at = pg_atomic_read_u64(&e->last_used);
		if (used_at < oldest)
		{
			oldest = used_at;
			victim = e;
		}
	}
	return victim;
}

static bool
shared_lookup(dsa_area *area, uint64 owner, const PgApiRequest *req,
			  char **data, size_t *data_len, long *status)
{
	uint32		hash = request_hash(owner, req);
	size_t		path_len = strlen(req->path);
	size_t		body_len = req->body ? req->body_len : 0;
	double		now = monotonic_ms();
	bool		hit = false;

	LWLockAcquire(shared_cache->lock, LW_SHARED);
	for (int i = 0; i < PGAPI_CACHE_MAX_ENTRIES; i++)
	{
		PgApiSharedEntry *e = &shared_cache->entries[i];
		char	   *copy;

		if (!shared_entry_matches(area, e, owner, hash, req, path_len,
								  body_len))
			continue;
		if (e->expires_at <= now)
			break;				/* replaced or evicted by a later store */
		copy = malloc(e->data_len + 1);
		if (copy == NULL)
			break;				/* no memory: ask the API instead */
		memcpy(copy, (char *) dsa_get_address(area, e->chunk) + path_len +
			   body_len, e->data_len + 1);
		*data = copy;
		*data_len = e->data_len;
		*status = e->status;
		pg_atomic_write_u64(&e->last_used,
							pg_atomic_fetch_add_u64(&shared_cache->clock, 1));
		hit = true;
		break;
	}
	LWLockRelease(shared_cache->lock);
	return hit;
}

static void
shared_store(dsa_area *area, uint64 owner, int ttl_ms, const PgApiRequest *req,
			 const char *data, size_t data_len, long status)
{
	uint32		hash = request_hash(owner, req);
	size_t		path_len = strlen(req->path);
	size_t		body_len = req->body ? req->body_len : 0;
	size_t		total = path_len + body_len + data_len + 1;
	PgApiSharedEntry *slot = NULL;
	dsa_pointer chunk;
	char	   *p;

	if (total > shared_cache->area_size / 4)
		return;

	LWLockAcquire(shared_cache->lock, LW_EXCLUSIVE);
	for (int i = 0; i < PGAPI_CACHE_MAX_ENTRIES; i++)
	{
		PgApiSharedEntry *e = &shared_cache->entries[i];

		if (shared_entry_matches(area, e, owner, hash, req, path_len, body_len))
			shared_free_entry(area, e);
		if (!e->used && slot == NULL)
			slot = e;
	}
	if (slot == NULL)
	{
		slot = shared_lru_entry();
		shared_free_entry(area, slot);
	}

	/* make room: evict the least recently used until the chunk fits */
	for (;;)
	{
		PgApiSharedEntry *victim;

		chunk = dsa_allocate_extended(area, total, DSA_ALLOC_NO_OOM);
		if (DsaPointerIsValid(chunk))
			break;
		victim = shared_lru_entry();
		if (victim == NULL)
		{
			LWLockRelease(shared_cache->lock);
			return;
		}
		shared_free_entry(area, victim);
	}

	p = dsa_get_address(area, chunk);
	memcpy(p, req->path, path_len);
	if (body_len > 0)
		memcpy(p + path_len, req->body, body_len);
	memcpy(p + path_len + body_len, data, data_len);
	p[path_len + body_len + data_len] = '\0';

	slot->hash = hash;
	slot->owner = owner;
	slot->method = req->method;
	slot->path_len = path_len;
	slot->body_len = body_len;
	slot->data_len = data_len;
	slot->chunk = chunk;
	slot->status = status;
	slot->expires_at = monotonic_ms() + ttl_ms;
	pg_atomic_write_u64(&slot->last_used,
						pg_atomic_fetch_add_u64(&shared_cache->clock, 1));
	slot->used = true;
	shared_cache->nbytes += total;
	LWLockRelease(shared_cache->lock);
}

static int
shared_forget(dsa_area *area, uint64 owner)
{
	int			n = 0;

	LWLockAcquire(shared_cache->lock, LW_EXCLUSIVE);
	for (int i = 0; i < PGAPI_CACHE_MAX_ENTRIES; i++)
	{
		PgApiSharedEntry *e = &shared_cache->entries[i];

		if (e->used && (owner == 0 || e->owner == owner))
		{
			shared_free_entry(area, e);
			n++;
		}
	}
	LWLockRelease(shared_cache->lock);
	return n;
}

/* ----------------------------------------------------------------
 *		The backend-local cache
 * ----------------------------------------------------------------
 */

static bool
entry_matches(const PgApiCacheEntry *e, uint64 owner, uint32 hash,
			  const PgApiRequest *req)
{
	size_t		body_len = req->body ? req->body_len : 0;

	return e->owner == owner && e->hash == hash && e->method == req->method &&
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
 *		an identical request of the same owner, if one is younger than its
 *		TTL.  Never ereports except for out of memory.
 */
bool
pgapi_cache_lookup(uint64 owner, const PgApiRequest *req, char **data,
				   size_t *data_len, long *status)
{
	dsa_area   *area = shared_cache_area();
	uint32		hash;
	double		now;

	if (area != NULL)
		return shared_lookup(area, owner, req, data, data_len, status);

	hash = request_hash(owner, req);
	now = monotonic_ms();
	for (PgApiCacheEntry *e = lru_head; e != NULL; e = e->next)
	{
		if (!entry_matches(e, owner, hash, req))
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
pgapi_cache_store(uint64 owner, int ttl_ms, const PgApiRequest *req,
				  const char *data, size_t data_len, long status)
{
	dsa_area   *area = shared_cache_area();
	uint32		hash;
	PgApiCacheEntry *e;

	if (ttl_ms <= 0)
		return;
	if (area != NULL)
	{
		shared_store(area, owner, ttl_ms, req, data, data_len, status);
		return;
	}
	if (data_len > PGAPI_CACHE_MAX_BYTES / 4)
		return;

	/* replace an older entry for the same request */
	hash = request_hash(owner, req);
	for (e = lru_head; e != NULL; e = e->next)
		if (entry_matches(e, owner, hash, req))
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
	e->owner = owner;
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
 *		Drop the entries of one owner (0: all of them, in every backend when
 *		the cache is shared), when its server or mapping changed or on
 *		request.  Returns how many were dropped.
 */
int
pgapi_cache_forget(uint64 owner)
{
	dsa_area   *area = shared_cache_area();
	int			n = 0;
	PgApiCacheEntry *e = lru_head;

	if (area != NULL)
		return shared_forget(area, owner);

	while (e != NULL)
	{
		PgApiCacheEntry *next = e->next;

		if (owner == 0 || e->owner == owner)
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
 *		SQL-callable: empty the response cache (the shared one, when the
 *		library is preloaded); returns the number of entries dropped.
 */
Datum
pgapi_fdw_cache_clear(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(pgapi_cache_forget(0));
}

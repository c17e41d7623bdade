/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *		  The client-side rate limit shared by all backends.
 *
 * The APIs limit requests per key (ClickHouse: 10 per 10 s), whatever
 * backend sends them, so the token bucket must be shared.  When the library
 * is in shared_preload_libraries, a small table of buckets lives in shared
 * memory, one per API key (a hash of the key id or API key; the secret is
 * never stored).  Servers that share a key with different settings get the
 * strictest.  Without preloading, http.c falls back to a bucket per
 * backend.
 *
 * The lock is held only to update a bucket; waiting for a token happens in
 * the HTTP layer's interruptible loop.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/ratelimit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "pgapi_fdw.h"

#define PGAPI_RATE_BUCKETS 64

typedef struct PgApiRateBucket
{
	uint64		key;			/* 0: free */
	double		capacity;		/* requests per window */
	double		window_ms;
	double		tokens;
	TimestampTz refill_at;
} PgApiRateBucket;

typedef struct PgApiRateShared
{
	LWLock	   *lock;
	PgApiRateBucket buckets[PGAPI_RATE_BUCKETS];
} PgApiRateShared;

static PgApiRateShared *rate_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
rate_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(PgApiRateShared)));
	RequestNamedLWLockTranche("pgapi_fdw", 1);
}

static void
rate_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rate_shared = ShmemInitStruct("pgapi_fdw rate limit",
								  sizeof(PgApiRateShared), &found);
	if (!found)
	{
		memset(rate_shared, 0, sizeof(PgApiRateShared));
		rate_shared->lock = &(GetNamedLWLockTranche("pgapi_fdw"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * pgapi_ratelimit_init
 *		From _PG_init: ask for shared memory when preloaded.
 */
void
pgapi_ratelimit_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rate_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rate_shmem_startup;
}

/*
 * pgapi_ratelimit_shared
 *		Use the shared bucket of key: when take, take a token if there is one.
 *		Sets *wait_ms to 0 when a token was there (and taken), else to the
 *		time until the next one.  Returns false when there is no shared
 *		memory (not preloaded): the caller uses its own bucket.
 */
bool
pgapi_ratelimit_shared(uint64 key, int requests, int window_ms, bool take,
					   double *wait_ms)
{
	PgApiRateBucket *b = NULL;
	PgApiRateBucket *oldest = NULL;
	TimestampTz now = GetCurrentTimestamp();
	double		elapsed_ms;

	if (rate_shared == NULL)
		return false;
	if (key == 0)
		key = 1;				/* 0 marks a free bucket */

	LWLockAcquire(rate_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < PGAPI_RATE_BUCKETS; i++)
	{
		PgApiRateBucket *c = &rate_shared->buckets[i];

		if (c->key == key)
		{
			b = c;
			break;
		}
		if (oldest == NULL || c->key == 0 ||
			(oldest->key != 0 && c->refill_at < oldest->refill_at))
			oldest = c;
	}
	if (b == NULL)
	{
		/* a new key, or the least recently used bucket is reused */
		b = oldest;
		b->key = key;
		b->capacity = requests;
		b->window_ms = Max(window_ms, 1);
		b->tokens = requests;
		b->refill_at = now;
	}

	/* the strictest settings of the servers sharing the key */
	elapsed_ms = (double) (now - b->refill_at) / 1000.0;
	if (elapsed_ms > b->window_ms)
	{
		/* idle for a window: settings may have been relaxed since */
		b->capacity = requests;
		b->window_ms = Max(window_ms, 1);
	}
	else if ((double) requests / Max(window_ms, 1) < b->capacity / b->window_ms)
	{
		b->capacity = requests;
		b->window_ms = Max(window_ms, 1);
	}

	if (elapsed_ms > 0)
		b->tokens = Min(b->capacity,
						b->tokens + elapsed_ms * b->capacity / b->window_ms);
	b->refill_at = now;

	if (b->tokens >= 1.0)
	{
		if (take)
			b->tokens -= 1.0;
		*wait_ms = 0;
	}
	else
		*wait_ms = Max((1.0 - b->tokens) * b->window_ms / b->capacity, 1.0);
	LWLockRelease(rate_shared->lock);
	return true;
}

/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *		  The client-side rate limit shared by all backends.
 *
 * The APIs limit requests per key (ClickHouse: 10 per 10 s), whatever
 * backend sends them, so the limit must be shared.  When the library is in
 * shared_preload_libraries, a small table of limits lives in shared memory,
 * one per API key (a hash of the key id or API key; the secret is never
 * stored).  Servers that share a key with different settings get the
 * strictest.  Without preloading, http.c keeps a limit per backend.
 *
 * requests_per_window means what it says: no window of rate_window_ms
 * holds more requests than that, so a limit counted over a sliding window
 * at the API never refuses us.  (A token bucket of that capacity, refilled
 * over the window, lets up to twice as many through the first window after
 * an idle time.)  Each limit counts the requests it let through in slots of
 * window / PGAPI_RATE_SLOTS and lets another one through only while the
 * last PGAPI_RATE_SLOTS + 2 slots hold fewer than the limit: that looks
 * back between one and two slots more than a window, and the slot of
 * margin absorbs the jitter between our clock and the time a request
 * reaches the API.  A full window may start at once; a steady load gets
 * the limit per window plus about a slot and a half.
 *
 * The lock is held only to update a limit; waiting happens in the HTTP
 * layer's interruptible loop.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/ratelimit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

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
	double		last_used_ms;	/* for reuse of the least recently used */
	PgApiRateWindow window;
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
 * window_count
 *		Requests the look-back of w counts at slot cur, after forgetting the
 *		slots that fell out of it.  A clock that went back counts as the
 *		newest slot, which only makes the limit stricter.
 */
static int64
window_count(PgApiRateWindow *w, int64 cur)
{
	int64		n = 0;

	if (cur > w->newest)
	{
		if (cur - w->newest >= PGAPI_RATE_RING)
			memset(w->counts, 0, sizeof(w->counts));
		else
			for (int64 s = w->newest + 1; s <= cur; s++)
				w->counts[s % PGAPI_RATE_RING] = 0;
		w->newest = cur;
	}
	for (int i = 0; i < PGAPI_RATE_RING; i++)
		n += w->counts[i];
	return n;
}

/*
 * pgapi_ratewindow
 *		Let one request through the limit w (requests per window_ms) at
 *		now_ms, if the limit allows it and take is true.  Sets *wait_ms to 0
 *		when it allows a request now, else to the time until it will.
 *
 *		w starts zeroed.  Callers that share w with other settings pass the
 *		strictest they know of; a change of settings keeps the requests
 *		counted so far, as if all were sent in the newest slot.
 */
void
pgapi_ratewindow(PgApiRateWindow *w, int requests, int window_ms,
				 double now_ms, bool take, double *wait_ms)
{
	double		slot_ms;
	int64		cur;
	int64		n;
	int64		excess;

	requests = Max(requests, 1);
	window_ms = Max(window_ms, 1);
	if (w->requests != requests || w->window_ms != window_ms)
	{
		int64		kept = 0;

		/* what the old settings still count now */
		if (w->requests > 0)
			kept = window_count(w, Max((int64) floor(now_ms * PGAPI_RATE_SLOTS /
													 w->window_ms),
									   w->newest));
		memset(w->counts, 0, sizeof(w->counts));
		w->requests = requests;
		w->window_ms = window_ms;
		w->newest = (int64) floor(now_ms * PGAPI_RATE_SLOTS / window_ms);
		w->counts[w->newest % PGAPI_RATE_RING] = (int32) Min(kept, PG_INT32_MAX);
	}
	slot_ms = (double) window_ms / PGAPI_RATE_SLOTS;
	cur = Max((int64) floor(now_ms * PGAPI_RATE_SLOTS / window_ms), w->newest);
	n = window_count(w, cur);

	if (n < requests)
	{
		if (take)
			w->counts[cur % PGAPI_RATE_RING]++;
		*wait_ms = 0;
		return;
	}

	/*
	 * Full: wait until the oldest slots leave the look-back, as many as it
	 * takes to count fewer than the limit.  Slot s leaves it when slot
	 * s + PGAPI_RATE_RING begins.
	 */
	excess = n - requests + 1;
	for (int64 s = cur - PGAPI_RATE_RING + 1; s <= cur; s++)
	{
		excess -= w->counts[s % PGAPI_RATE_RING];
		if (excess <= 0)
		{
			*wait_ms = Max((s + PGAPI_RATE_RING) * slot_ms - now_ms, 1.0);
			return;
		}
	}
	/* the limit was lowered below what the newest slot holds */
	*wait_ms = Max((cur + PGAPI_RATE_RING) * slot_ms - now_ms, 1.0);
}

/*
 * pgapi_ratelimit_shared
 *		Use the shared limit of key: when take, let a request through if the
 *		limit allows it.  Sets *wait_ms to 0 when it did (or would), else to
 *		the time until it will.  Returns false when there is no shared
 *		memory (not preloaded): the caller uses its own limit.
 */
bool
pgapi_ratelimit_shared(uint64 key, int requests, int window_ms, bool take,
					   double *wait_ms)
{
	PgApiRateBucket *b = NULL;
	PgApiRateBucket *oldest = NULL;
	double		now = (double) GetCurrentTimestamp() / 1000.0;

	if (rate_shared == NULL)
		return false;
	if (key == 0)
		key = 1;				/* 0 marks a free bucket */
	requests = Max(requests, 1);
	window_ms = Max(window_ms, 1);

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
			(oldest->key != 0 && c->last_used_ms < oldest->last_used_ms))
			oldest = c;
	}
	if (b == NULL)
	{
		/* a new key, or the least recently used bucket is reused */
		b = oldest;
		memset(b, 0, sizeof(*b));
		b->key = key;
	}
	else if (now - b->last_used_ms <= 2.0 * b->window.window_ms &&
			 (double) requests / window_ms >=
			 (double) b->window.requests / b->window.window_ms)
	{
		/*
		 * Used within its look-back: keep the strictest settings of the
		 * servers sharing the key.  After that, settings may have been
		 * relaxed, and nothing counted is left to matter.
		 */
		requests = b->window.requests;
		window_ms = b->window.window_ms;
	}
	b->last_used_ms = now;
	pgapi_ratewindow(&b->window, requests, window_ms, now, take, wait_ms);
	LWLockRelease(rate_shared->lock);
	return true;
}

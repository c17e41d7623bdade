/*-------------------------------------------------------------------------
 *
 * headers.c
 *		  Response header lines: the three we read, and the retry wait they
 *		  ask for.
 *
 * libcurl hands http.c's header callback one line at a time, not
 * NUL-terminated and of any length (a server may send 100 KiB: RELIABILITY
 * B13).  pgapi_headers_line() reads only Content-Type, Retry-After and
 * X-RateLimit-Reset into fixed fields of a PgApiRespHeaders; it copies a
 * bounded prefix (Content-Type, for messages) or nothing (a value too long
 * to be a delay counts as absent), so no length from the server ever sizes
 * a buffer.  It runs inside a libcurl callback, so it neither allocates
 * nor ereports (R2).
 *
 * pgapi_headers_retry_wait() turns the fields into a wait in ms once the
 * transfer is over.  Both are split from http.c so that the libFuzzer
 * harness src/test/fuzz/fuzz_headers.c can call them without a transfer.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/headers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include <curl/curl.h>

#include "pgapi_fdw.h"

/* A wait beyond any budget, for values too large to be meant (31 years). */
#define PGAPI_ABSURD_WAIT_MS	1e12

/* Header name of length len equals name (lower case)? */
static bool
header_is(const char *line, size_t len, const char *name)
{
	return len == strlen(name) && pg_strncasecmp(line, name, len) == 0;
}

/* Copy a header value into a bounded field; too long counts as absent. */
static void
copy_header_value(char *dst, size_t dstsize, const char *v, size_t vlen)
{
	if (vlen >= dstsize)
		vlen = 0;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}

/*
 * pgapi_headers_reset
 *		Forget everything read: a new transfer, or a new response after a
 *		1xx one.
 */
void
pgapi_headers_reset(PgApiRespHeaders *h)
{
	h->ctype = PGAPI_CT_NONE;
	h->ctype_text[0] = '\0';
	h->retry_after[0] = '\0';
	h->ratelimit_reset[0] = '\0';
}

/*
 * pgapi_headers_line
 *		Look at one header line of len bytes (not NUL-terminated, any length,
 *		with or without its CRLF).  A status line starts a new response
 *		(after 1xx), so it clears the fields.  Never allocates or ereports.
 */
void
pgapi_headers_line(PgApiRespHeaders *h, const char *line, size_t len)
{
	const char *colon;
	const char *v;
	size_t		namelen;
	size_t		vlen;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0)
	{
		pgapi_headers_reset(h);
		return;
	}

	colon = memchr(line, ':', len);
	if (colon == NULL)
		return;
	namelen = colon - line;
	v = colon + 1;
	vlen = len - namelen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
						v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;

	if (header_is(line, namelen, "content-type"))
	{
		const char *semi = memchr(v, ';', vlen);
		size_t		mlen = semi ? (size_t) (semi - v) : vlen;

		while (mlen > 0 && (v[mlen - 1] == ' ' || v[mlen - 1] == '\t'))
			mlen--;
		if (mlen == 16 && pg_strncasecmp(v, "application/json", 16) == 0)
			h->ctype = PGAPI_CT_JSON;
		else if (mlen == 10 && pg_strncasecmp(v, "text/plain", 10) == 0)
			h->ctype = PGAPI_CT_TEXT;
		else
			h->ctype = PGAPI_CT_OTHER;
		/* for messages only: a bounded prefix */
		mlen = Min(vlen, sizeof(h->ctype_text) - 1);
		memcpy(h->ctype_text, v, mlen);
		h->ctype_text[mlen] = '\0';
	}
	else if (header_is(line, namelen, "retry-after"))
		copy_header_value(h->retry_after, sizeof(h->retry_after), v, vlen);
	else if (header_is(line, namelen, "x-ratelimit-reset"))
		copy_header_value(h->ratelimit_reset, sizeof(h->ratelimit_reset),
						  v, vlen);
}

/*
 * pgapi_headers_retry_wait
 *		The wait the API asked for, in ms, from Retry-After (seconds or an
 *		HTTP date) or X-RateLimit-Reset (seconds, fractional, or a Unix
 *		time); -1 for none, a negative value or garbage (then the default
 *		backoff applies).  now is the current Unix time.  Always finite:
 *		at most PGAPI_ABSURD_WAIT_MS.
 */
double
pgapi_headers_retry_wait(const PgApiRespHeaders *h, time_t now)
{
	const char *ra = h->retry_after;
	const char *rr = h->ratelimit_reset;

	if (ra[0] != '\0')
	{
		if (strspn(ra, "0123456789") == strlen(ra))
		{
			if (strlen(ra) > 9)
				return PGAPI_ABSURD_WAIT_MS;
			return atof(ra) * 1000.0;
		}
		else
		{
			time_t		t = curl_getdate(ra, NULL);

			if (t != (time_t) -1)
			{
				double		ms = difftime(t, now) * 1000.0;

				if (ms > 0)
					return ms;
			}
		}
	}
	if (rr[0] != '\0')
	{
		char	   *end;
		double		v = strtod(rr, &end);

		if (end != rr && *end == '\0' && isfinite(v) && v >= 0)
		{
			/*
			 * Large values are Unix times, not delays.  Capped: a huge one
			 * (1e308) would otherwise give an infinite wait.
			 */
			if (v >= 1e9)
			{
				v = v * 1000.0 - (double) now * 1000.0;
				return v > 0 ? Min(v, PGAPI_ABSURD_WAIT_MS) : -1;
			}
			return v * 1000.0;
		}
	}
	return -1;
}

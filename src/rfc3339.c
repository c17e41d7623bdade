/*-------------------------------------------------------------------------
 *
 * rfc3339.c
 *		  Timestamps as the APIs write them: RFC 3339 text and Unix seconds.
 *
 * Incoming (json.c): pgapi_is_rfc3339() accepts only RFC 3339 with an
 * explicit offset, so that timestamptz_in's result does not depend on
 * TimeZone or DateStyle (RELIABILITY B11); pgapi_unix_to_timestamptz()
 * converts a JSON number of Unix seconds exactly to the microsecond.
 * Outgoing (deparse.c): window bounds as "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC
 * or as whole Unix seconds, after dropping the sub-millisecond part.
 *
 * Nothing here allocates or ereports: the callers raise their own errors,
 * which name the value, column and table.  That also keeps these
 * functions callable from the libFuzzer harness src/test/fuzz/
 * fuzz_rfc3339.c without a backend.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/rfc3339.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "common/int.h"
#include "datatype/timestamp.h"
#include "utils/timestamp.h"

#include "pgapi_fdw.h"

/* Seconds from the Unix epoch to the PostgreSQL epoch. */
#define PGAPI_EPOCH_DIFF_SECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* "ddd...d" at *p: exactly n digits; advances *p past them */
static bool
eat_digits(const char **p, int n)
{
	for (int k = 0; k < n; k++)
	{
		if (!isdigit((unsigned char) (*p)[k]))
			return false;
	}
	*p += n;
	return true;
}

/*
 * pgapi_is_rfc3339
 *		YYYY-MM-DD[Tt ]hh:mm:ss[.f+](Z|z|[+-]hh:mm) in s[0..len): the
 *		explicit offset makes the result independent of TimeZone and
 *		DateStyle.  Checks the shape only; timestamptz_in checks the ranges.
 *		Reads no byte at or after s + len.
 */
bool
pgapi_is_rfc3339(const char *s, size_t len)
{
	const char *p = s;
	const char *end = s + len;

	/* the fixed part "YYYY-MM-DDThh:mm:ss" is 19 bytes, all read below */
	if (len < 20 || len > 64)
		return false;
	if (!eat_digits(&p, 4) || *p++ != '-' || !eat_digits(&p, 2) ||
		*p++ != '-' || !eat_digits(&p, 2))
		return false;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if (!eat_digits(&p, 2) || *p++ != ':' || !eat_digits(&p, 2) ||
		*p++ != ':' || !eat_digits(&p, 2))
		return false;
	if (p < end && *p == '.')
	{
		p++;
		if (p >= end || !isdigit((unsigned char) *p))
			return false;
		while (p < end && isdigit((unsigned char) *p))
			p++;
	}
	if (p + 1 == end && (*p == 'Z' || *p == 'z'))
		return true;
	if (p + 6 == end && (*p == '+' || *p == '-'))
	{
		p++;
		return eat_digits(&p, 2) && *p++ == ':' && eat_digits(&p, 2);
	}
	return false;
}

/*
 * pgapi_unix_to_timestamptz
 *		Unix seconds to a TimestampTz in *result, exactly to the microsecond
 *		(half away from zero).  s is the NUL-terminated text of a JSON
 *		number (RFC 8259 syntax, as json.c's lexical check guarantees),
 *		integer or fractional; the exponent form goes through a double,
 *		rounded to the microsecond.  Returns false when the value is out of
 *		the range of timestamptz.
 */
bool
pgapi_unix_to_timestamptz(const char *s, size_t len, TimestampTz *result)
{
	const char *p = s;
	bool		neg = false;
	int64		secs = 0;
	int64		usecs = 0;
	int64		r;

	if (strpbrk(s, "eE") != NULL)
	{
		/* exponent form: via double, rounded to the microsecond */
		double		d = strtod(s, NULL);

		d = rint((d - (double) PGAPI_EPOCH_DIFF_SECS) * USECS_PER_SEC);
		if (!isfinite(d) || d < (double) MIN_TIMESTAMP ||
			d >= (double) END_TIMESTAMP)
			return false;
		*result = (TimestampTz) d;
		return true;
	}

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	while (isdigit((unsigned char) *p))
	{
		if (pg_mul_s64_overflow(secs, 10, &secs) ||
			pg_add_s64_overflow(secs, *p - '0', &secs))
			return false;
		p++;
	}
	if (*p == '.')
	{
		int			ndigits = 0;

		p++;
		while (isdigit((unsigned char) *p))
		{
			if (ndigits < 6)
				usecs = usecs * 10 + (*p - '0');
			else if (ndigits == 6 && *p >= '5')
				usecs++;		/* round half away from zero */
			ndigits++;
			p++;
		}
		for (; ndigits < 6; ndigits++)
			usecs *= 10;
	}
	/*
	 * Move to the PostgreSQL epoch before scaling: Unix microseconds of the
	 * last valid years do not fit in int64, their PostgreSQL ones do.
	 */
	if (neg)
	{
		secs = -secs;
		usecs = -usecs;
	}
	if (pg_sub_s64_overflow(secs, PGAPI_EPOCH_DIFF_SECS, &secs) ||
		pg_mul_s64_overflow(secs, USECS_PER_SEC, &r) ||
		pg_add_s64_overflow(r, usecs, &r) ||
		!IS_VALID_TIMESTAMP(r))
		return false;
	*result = r;
	return true;
}

/*
 * pgapi_truncate_ms
 *		Drop the sub-millisecond part of a timestamp (towards minus
 *		infinity), as the API only takes milliseconds.  ts must be a valid
 *		timestamptz or an infinity.
 */
TimestampTz
pgapi_truncate_ms(TimestampTz ts)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	return ts - (((ts % 1000) + 1000) % 1000);
}

/*
 * pgapi_unix_seconds
 *		Whole Unix seconds of a finite timestamp (towards minus infinity).
 */
int64
pgapi_unix_seconds(TimestampTz ts)
{
	int64		secs = ts / USECS_PER_SEC;

	if (ts < 0 && ts % USECS_PER_SEC != 0)
		secs--;
	return secs + PGAPI_EPOCH_DIFF_SECS;
}

/*
 * pgapi_format_rfc3339
 *		Write a finite timestamp, truncated to the millisecond, as
 *		"YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC, whatever the session's TimeZone
 *		(RELIABILITY B11), into buf (PGAPI_RFC3339_LEN + 1 bytes).  Returns
 *		false for years outside 1..9999, which that form cannot write.
 */
bool
pgapi_format_rfc3339(TimestampTz ts, char *buf)
{
	struct pg_tm tm;
	fsec_t		fsec;

	ts = pgapi_truncate_ms(ts);
	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		return false;
	snprintf(buf, PGAPI_RFC3339_LEN + 1, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year, tm.tm_mon, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
	return true;
}

/*-------------------------------------------------------------------------
 *
 * fuzz_rfc3339.c
 *		  libFuzzer harness for src/rfc3339.c: incoming RFC 3339 text and
 *		  Unix seconds, outgoing window bounds.
 *
 * rfc3339.c is pure: it neither allocates nor ereports, so the oracles
 * here are independent reimplementations (differential checks) and round
 * trips, on top of AddressSanitizer and UndefinedBehaviorSanitizer:
 *
 * 1. pgapi_is_rfc3339() on the input, in a buffer of exactly its length
 *    (it promises to read nothing past len), must agree with a separate
 *    pattern matcher of the same grammar.
 * 2. If the input is a JSON number (RFC 8259 grammar, as json.c's lexical
 *    check guarantees before it calls), pgapi_unix_to_timestamptz() must
 *    agree with exact 128-bit arithmetic (plain and fractional forms:
 *    same value, or both out of range) or with long double arithmetic
 *    within rounding error (exponent forms).
 * 3. A timestamp taken from the input's bytes (mapped into the valid
 *    range, infinities included) and, when step 2 gave one, that one:
 *    pgapi_truncate_ms() floors to the millisecond; pgapi_unix_seconds()
 *    floors to the second; pgapi_format_rfc3339() succeeds exactly for
 *    years 1..9999 and writes 24 bytes that pgapi_is_rfc3339() accepts and
 *    whose fields equal a civil-calendar computation (Howard Hinnant's
 *    days-to-civil, independent of PostgreSQL's j2date); and the exact
 *    decimal Unix time of the truncated value, read back with
 *    pgapi_unix_to_timestamptz(), gives the same microsecond.
 *
 * timestamp2tm is pgtypes.c's copy of PostgreSQL 15's UTC path.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/test/fuzz/fuzz_rfc3339.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "datatype/timestamp.h"

#include "pgapi_fdw.h"
#include "pgstub.h"

#define EPOCH_DIFF_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
digit(char c)
{
	return c >= '0' && c <= '9';
}

/* the RFC 3339 shape, written differently from rfc3339.c */
static bool
ref_is_rfc3339(const char *s, size_t len)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	const char *r;
	size_t		rest;
	size_t		k = 0;

	if (len < 20 || len > 64)
		return false;
	for (int i = 0; i < 19; i++)
	{
		char		p = pat[i];
		char		c = s[i];

		if (p == 'd' ? !digit(c) :
			p == 'T' ? !(c == 'T' || c == 't' || c == ' ') : c != p)
			return false;
	}
	r = s + 19;
	rest = len - 19;
	if (rest > 0 && r[0] == '.')
	{
		k = 1;
		while (k < rest && digit(r[k]))
			k++;
		if (k == 1)
			return false;
	}
	r += k;
	rest -= k;
	if (rest == 1)
		return r[0] == 'Z' || r[0] == 'z';
	if (rest == 6)
		return (r[0] == '+' || r[0] == '-') && digit(r[1]) && digit(r[2]) &&
			r[3] == ':' && digit(r[4]) && digit(r[5]);
	return false;
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
is_json_number(const char *s, size_t len, bool *has_exp)
{
	size_t		i = 0;

	*has_exp = false;
	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9')
		while (i < len && digit(s[i]))
			i++;
	else
		return false;
	if (i < len && s[i] == '.')
	{
		i++;
		if (i >= len || !digit(s[i]))
			return false;
		while (i < len && digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		*has_exp = true;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !digit(s[i]))
			return false;
		while (i < len && digit(s[i]))
			i++;
	}
	return i == len;
}

/*
 * Exact microseconds since 2000 of a plain JSON number of Unix seconds,
 * rounded half away from zero; false if beyond +-2^100 (surely out of
 * range).
 */
static bool
ref_unix_plain(const char *s, __int128 *result)
{
	const __int128 big = (__int128) 1 << 100;
	bool		neg = (*s == '-');
	__int128	us = 0;
	int			nfrac = 0;
	bool		up = false;

	if (neg)
		s++;
	for (; digit(*s); s++)
	{
		us = us * 10 + (*s - '0');
		if (us > big)
			return false;
	}
	us *= 1000000;
	if (*s == '.')
	{
		__int128	frac = 0;

		for (s++; digit(*s); s++, nfrac++)
		{
			if (nfrac < 6)
				frac = frac * 10 + (*s - '0');
			else if (nfrac == 6)
				up = (*s >= '5');
		}
		for (int k = nfrac; k < 6; k++)
			frac *= 10;
		us += frac + (up ? 1 : 0);
	}
	*result = (neg ? -us : us) - EPOCH_DIFF_USECS;
	return true;
}

static bool
in_range(__int128 v)
{
	return v >= MIN_TIMESTAMP && v < END_TIMESTAMP;
}

static void
check_unix(const char *s, size_t len, bool has_exp, TimestampTz *got_out,
		   bool *have)
{
	TimestampTz got = 0;
	bool		ok = pgapi_unix_to_timestamptz(s, len, &got);

	*have = ok;
	*got_out = got;
	if (ok && !IS_VALID_TIMESTAMP(got))
		fuzz_fail("unix \"%s\": invalid timestamp " INT64_FORMAT, s, got);
	if (!has_exp)
	{
		__int128	ref;
		bool		ref_ok = ref_unix_plain(s, &ref) && in_range(ref);

		if (ok != ref_ok || (ok && ref != got))
			fuzz_fail("unix \"%s\": got %s " INT64_FORMAT ", expected %s " INT64_FORMAT,
					  s, ok ? "ok" : "out of range", got,
					  ref_ok ? "ok" : "out of range", ref_ok ? (int64) ref : 0);
	}
	else
	{
		long double v = strtold(s, NULL);
		long double ref = (v - (long double) EPOCH_DIFF_USECS / 1000000.0L) *
			1000000.0L;
		long double tol = 2.0L + fabsl(ref) * 0x1p-50L;

		if (ok && fabsl((long double) got - ref) > tol)
			fuzz_fail("unix \"%s\": got " INT64_FORMAT ", expected %.3Lf",
					  s, got, ref);
		if (!ok && isfinite(ref) && ref > (long double) MIN_TIMESTAMP + tol &&
			ref < (long double) END_TIMESTAMP - tol)
			fuzz_fail("unix \"%s\": out of range, expected %.3Lf", s, ref);
	}
}

/* Howard Hinnant's days_from_civil inverse; z is days since 1970-01-01 */
static void
civil_from_days(int64 z, int64 *y, int *m, int *d)
{
	int64		era;
	unsigned	doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned) (z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = (int64) yoe + era * 400 + (*m <= 2);
}

static int64
floor_div(int64 a, int64 b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static void
check_outgoing(TimestampTz ts)
{
	char		buf[PGAPI_RFC3339_LEN + 8];
	TimestampTz t = pgapi_truncate_ms(ts);
	bool		ok;

	memset(buf, 'X', sizeof(buf));
	ok = pgapi_format_rfc3339(ts, buf);
	if (TIMESTAMP_NOT_FINITE(ts))
	{
		if (t != ts || ok)
			fuzz_fail("infinite " INT64_FORMAT ": truncated or formatted", ts);
		return;
	}

	/* floor to the millisecond and to the second */
	if (t > ts || ts - t >= 1000 || floor_div(t, 1000) * 1000 != t)
		fuzz_fail("pgapi_truncate_ms(" INT64_FORMAT ") = " INT64_FORMAT, ts, t);
	{
		int64		secs = pgapi_unix_seconds(ts);
		__int128	unix_us = (__int128) ts + EPOCH_DIFF_USECS;

		if ((__int128) secs * 1000000 > unix_us ||
			((__int128) secs + 1) * 1000000 <= unix_us)
			fuzz_fail("pgapi_unix_seconds(" INT64_FORMAT ") = " INT64_FORMAT,
					  ts, secs);
	}

	/* the civil fields of t, the independent way */
	{
		int64		usecs_day = USECS_PER_DAY;
		int64		days = floor_div(t, usecs_day);
		int64		tod = t - days * usecs_day;
		int64		y;
		int			m,
					d;
		char		want[64];

		civil_from_days(days + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE),
						&y, &m, &d);
		if (ok != (y >= 1 && y <= 9999))
			fuzz_fail("pgapi_format_rfc3339(" INT64_FORMAT "): %s for year " INT64_FORMAT,
					  ts, ok ? "written" : "refused", y);
		if (!ok)
			return;
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
				 (int) y, m, d, (int) (tod / USECS_PER_HOUR),
				 (int) (tod / USECS_PER_MINUTE % 60),
				 (int) (tod / USECS_PER_SEC % 60),
				 (int) (tod / 1000 % 1000));
		if (buf[PGAPI_RFC3339_LEN] != '\0' || strcmp(buf, want) != 0)
			fuzz_fail("pgapi_format_rfc3339(" INT64_FORMAT ") = \"%.30s\", expected \"%s\"",
					  ts, buf, want);
		if (!pgapi_is_rfc3339(buf, PGAPI_RFC3339_LEN))
			fuzz_fail("\"%s\" written but not accepted as RFC 3339", buf);
	}

	/* the exact Unix time of t reads back as t */
	{
		__int128	unix_us = (__int128) t + EPOCH_DIFF_USECS;
		__int128	a = unix_us < 0 ? -unix_us : unix_us;
		char		num[64];
		TimestampTz back = 0;

		snprintf(num, sizeof(num), "%s" INT64_FORMAT ".%06d",
				 unix_us < 0 ? "-" : "", (int64) (a / 1000000),
				 (int) (a % 1000000));
		if (!pgapi_unix_to_timestamptz(num, strlen(num), &back) || back != t)
			fuzz_fail("Unix time %s of " INT64_FORMAT " reads back as " INT64_FORMAT,
					  num, t, back);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *exact = malloc(size ? size : 1);
	char	   *cstr = malloc(size + 1);
	bool		has_exp;
	bool		have = false;
	TimestampTz from_text = 0;

	fuzz_begin();
	memcpy(exact, data, size);
	memcpy(cstr, data, size);
	cstr[size] = '\0';

	if (pgapi_is_rfc3339(exact, size) != ref_is_rfc3339(cstr, size))
		fuzz_fail("pgapi_is_rfc3339(\"%.64s\") = %d", cstr,
				  !ref_is_rfc3339(cstr, size));

	if (is_json_number(cstr, size, &has_exp))
		check_unix(cstr, size, has_exp, &from_text, &have);
	if (have)
		check_outgoing(from_text);

	if (size >= 8)
	{
		int64		raw;

		memcpy(&raw, data, 8);
		if (!IS_VALID_TIMESTAMP(raw) && !TIMESTAMP_NOT_FINITE(raw))
			raw = (int64) ((uint64) MIN_TIMESTAMP + (uint64) raw %
						   ((uint64) END_TIMESTAMP - (uint64) MIN_TIMESTAMP));
		check_outgoing(raw);
	}

	free(exact);
	free(cstr);
	return 0;
}

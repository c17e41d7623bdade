/*-------------------------------------------------------------------------
 *
 * pgtypes.c
 *		  Catalog lookups, type input functions, arrays and timestamp helpers
 *		  for the libFuzzer harnesses.
 *
 * json.c converts values with InputFunctionCall() and reads the catalog
 * through lsyscache.  These stand-ins know a fixed set of types (the table
 * below) and implement their input functions well enough to take the same
 * paths in json.c as the real ones, with the SQLSTATEs PostgreSQL 15 uses.
 * They are not PostgreSQL's code; where they differ:
 *
 *	int2in, int4in, int8in: as pg_strtoint16/32/64 of PostgreSQL 15
 *		(whitespace around, optional sign, decimal digits only, full range
 *		with overflow check): 22P02 for syntax, 22003 for range.
 *	float8in: strtod() with PostgreSQL's NaN/Infinity spellings, whitespace
 *		and trailing-garbage checks: 22P02, and 22003 for ERANGE.
 *	numeric_in: the syntax of PostgreSQL 15 (sign, digits with one point,
 *		exponent within +-1000, NaN/Infinity/inf), then the typmod's
 *		precision and scale with rounding half away from zero: 22P02,
 *		22003.  The Datum is a text copy of the input, not a real numeric.
 *	boolin: PostgreSQL's spellings (t, true, yes, on, 1 ... any unique
 *		prefix, any case, whitespace around): 22P02.
 *	date_in, timestamp_in, timestamptz_in: ISO 8601 only, "YYYY-MM-DD"
 *		optionally followed by [Tt ]hh:mm[:ss[.frac]] and a zone (Z, z,
 *		+hh, +hhmm, +hh:mm, +hh:mm:ss), plus infinity, -infinity and
 *		epoch, with PostgreSQL's field checks: 22007 for syntax, 22008 for
 *		a field or result out of range, 22009 for a zone beyond 15:59:59.
 *		PostgreSQL accepts many more forms (month names, "now", BC, ...),
 *		which these refuse with 22007; a timestamptz without a zone is read
 *		as UTC (the backend uses the session's TimeZone).  The time of day
 *		is rounded to the typmod as AdjustTimestampForTypmod does.
 *	textin, varcharin: copies; varchar(n) checks the length in characters
 *		and clips trailing spaces as varchar_input does: 22001.
 *	uuid_in: string_to_uuid of PostgreSQL 15: 22P02.
 *	json_in, jsonb_in: PostgreSQL's own JSON parser (pg_parse_json from
 *		libpgcommon); jsonb also de-escapes strings (\u0000: 22P05) and
 *		checks numbers with the numeric_in stand-in.  The Datum is a text
 *		copy of the input.
 *	array_in: one dimension only, "{a,"b c",NULL}" with quotes and
 *		backslashes; each element through the element type's stand-in with
 *		the column's typmod.  PostgreSQL also accepts dimension
 *		decorations and nested braces, which this refuses with 22P02.
 *	regtypeout: the type's name from the table.
 *
 * construct_md_array and construct_empty_array build real one-dimensional
 * ArrayTypes (so every element Datum json.c made is read and copied), and
 * AdjustTimestampForTypmod and timestamp2tm (UTC only: tzp must be NULL)
 * follow PostgreSQL 15's code.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/test/fuzz/pgtypes.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>

#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/jsonapi.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "pgstub.h"

/* ----------------------------------------------------------------
 *		The catalog
 * ----------------------------------------------------------------
 */

typedef struct FuzzType
{
	Oid			typid;
	const char *name;
	Oid			infunc;
	Oid			elemtype;		/* arrays: the element type */
	Oid			arraytype;		/* scalars: their array type */
	int16		len;
	bool		byval;
	char		align;
} FuzzType;

static const FuzzType fuzz_types[] = {
	{BOOLOID, "boolean", F_BOOLIN, InvalidOid, BOOLARRAYOID, 1, true, TYPALIGN_CHAR},
	{INT2OID, "smallint", F_INT2IN, InvalidOid, INT2ARRAYOID, 2, true, TYPALIGN_SHORT},
	{INT4OID, "integer", F_INT4IN, InvalidOid, INT4ARRAYOID, 4, true, TYPALIGN_INT},
	{INT8OID, "bigint", F_INT8IN, InvalidOid, INT8ARRAYOID, 8, true, TYPALIGN_DOUBLE},
	{FLOAT8OID, "double precision", F_FLOAT8IN, InvalidOid, FLOAT8ARRAYOID, 8, true, TYPALIGN_DOUBLE},
	{NUMERICOID, "numeric", F_NUMERIC_IN, InvalidOid, NUMERICARRAYOID, -1, false, TYPALIGN_INT},
	{TEXTOID, "text", F_TEXTIN, InvalidOid, TEXTARRAYOID, -1, false, TYPALIGN_INT},
	{VARCHAROID, "character varying", F_VARCHARIN, InvalidOid, VARCHARARRAYOID, -1, false, TYPALIGN_INT},
	{DATEOID, "date", F_DATE_IN, InvalidOid, DATEARRAYOID, 4, true, TYPALIGN_INT},
	{TIMESTAMPOID, "timestamp without time zone", F_TIMESTAMP_IN, InvalidOid, TIMESTAMPARRAYOID, 8, true, TYPALIGN_DOUBLE},
	{TIMESTAMPTZOID, "timestamp with time zone", F_TIMESTAMPTZ_IN, InvalidOid, TIMESTAMPTZARRAYOID, 8, true, TYPALIGN_DOUBLE},
	{JSONOID, "json", F_JSON_IN, InvalidOid, JSONARRAYOID, -1, false, TYPALIGN_INT},
	{JSONBOID, "jsonb", F_JSONB_IN, InvalidOid, JSONBARRAYOID, -1, false, TYPALIGN_INT},
	{UUIDOID, "uuid", F_UUID_IN, InvalidOid, UUIDARRAYOID, UUID_LEN, false, TYPALIGN_CHAR},
	{BOOLARRAYOID, "boolean[]", F_ARRAY_IN, BOOLOID, InvalidOid, -1, false, TYPALIGN_INT},
	{INT4ARRAYOID, "integer[]", F_ARRAY_IN, INT4OID, InvalidOid, -1, false, TYPALIGN_INT},
	{INT8ARRAYOID, "bigint[]", F_ARRAY_IN, INT8OID, InvalidOid, -1, false, TYPALIGN_DOUBLE},
	{FLOAT8ARRAYOID, "double precision[]", F_ARRAY_IN, FLOAT8OID, InvalidOid, -1, false, TYPALIGN_DOUBLE},
	{NUMERICARRAYOID, "numeric[]", F_ARRAY_IN, NUMERICOID, InvalidOid, -1, false, TYPALIGN_INT},
	{TEXTARRAYOID, "text[]", F_ARRAY_IN, TEXTOID, InvalidOid, -1, false, TYPALIGN_INT},
	{VARCHARARRAYOID, "character varying[]", F_ARRAY_IN, VARCHAROID, InvalidOid, -1, false, TYPALIGN_INT},
	{TIMESTAMPTZARRAYOID, "timestamp with time zone[]", F_ARRAY_IN, TIMESTAMPTZOID, InvalidOid, -1, false, TYPALIGN_DOUBLE},
	{JSONBARRAYOID, "jsonb[]", F_ARRAY_IN, JSONBOID, InvalidOid, -1, false, TYPALIGN_INT},
	{UUIDARRAYOID, "uuid[]", F_ARRAY_IN, UUIDOID, InvalidOid, -1, false, TYPALIGN_INT},
};

static const FuzzType *
lookup_type(Oid typid)
{
	for (int i = 0; i < lengthof(fuzz_types); i++)
		if (fuzz_types[i].typid == typid)
			return &fuzz_types[i];
	elog(ERROR, "cache lookup failed for type %u", typid);
	return NULL;				/* keep compiler quiet */
}

const char *
fuzz_type_name(Oid typid)
{
	return lookup_type(typid)->name;
}

void
getTypeInputInfo(Oid type, Oid *typInput, Oid *typIOParam)
{
	const FuzzType *t = lookup_type(type);

	*typInput = t->infunc;
	/* getTypeIOParam: the element type for arrays, else the type itself */
	*typIOParam = OidIsValid(t->elemtype) ? t->elemtype : t->typid;
}

Oid
get_element_type(Oid typid)
{
	for (int i = 0; i < lengthof(fuzz_types); i++)
		if (fuzz_types[i].typid == typid)
			return fuzz_types[i].elemtype;
	return InvalidOid;
}

Oid
get_array_type(Oid typid)
{
	for (int i = 0; i < lengthof(fuzz_types); i++)
		if (fuzz_types[i].typid == typid)
			return fuzz_types[i].arraytype;
	return InvalidOid;
}

void
get_typlenbyvalalign(Oid typid, int16 *typlen, bool *typbyval, char *typalign)
{
	const FuzzType *t = lookup_type(typid);

	*typlen = t->len;
	*typbyval = t->byval;
	*typalign = t->align;
}

void
fmgr_info(Oid functionId, FmgrInfo *finfo)
{
	memset(finfo, 0, sizeof(FmgrInfo));
	finfo->fn_oid = functionId;
	finfo->fn_nargs = 3;
	finfo->fn_strict = true;
	finfo->fn_mcxt = CurrentMemoryContext;
}

Datum
OidFunctionCall1Coll(Oid functionId, Oid collation, Datum arg1)
{
	if (functionId == F_REGTYPEOUT)
	{
		Oid			typid = DatumGetObjectId(arg1);

		for (int i = 0; i < lengthof(fuzz_types); i++)
			if (fuzz_types[i].typid == typid)
				return CStringGetDatum(pstrdup(fuzz_types[i].name));
		return CStringGetDatum(psprintf("%u", typid));
	}
	elog(ERROR, "stand-in has no function %u", functionId);
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 *		Helpers
 * ----------------------------------------------------------------
 */

static Datum
text_datum(const char *s, size_t len)
{
	text	   *t = palloc(len + VARHDRSZ);

	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return PointerGetDatum(t);
}

static void
invalid_syntax(const char *type, const char *str)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", type, str)));
}

/* ----------------------------------------------------------------
 *		Numbers
 * ----------------------------------------------------------------
 */

/* pg_strtoint16/32/64 of PostgreSQL 15 */
static int64
int_in(const char *str, int64 min, int64 max, const char *type)
{
	const char *ptr = str;
	bool		neg = false;
	uint64		acc = 0;
	uint64		limit;

	while (*ptr && isspace((unsigned char) *ptr))
		ptr++;
	if (*ptr == '-')
	{
		ptr++;
		neg = true;
	}
	else if (*ptr == '+')
		ptr++;
	if (!isdigit((unsigned char) *ptr))
		invalid_syntax(type, str);
	limit = neg ? (uint64) (-(min + 1)) + 1 : (uint64) max;
	while (*ptr && isdigit((unsigned char) *ptr))
	{
		int			digit = (*ptr++ - '0');

		if (acc > (limit - digit) / 10)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value \"%s\" is out of range for type %s",
							str, type)));
		acc = acc * 10 + digit;
	}
	while (*ptr != '\0' && isspace((unsigned char) *ptr))
		ptr++;
	if (*ptr != '\0')
		invalid_syntax(type, str);
	if (neg)
		return acc == (uint64) PG_INT64_MAX + 1 ? PG_INT64_MIN : -(int64) acc;
	return (int64) acc;
}

/* float8in_internal of PostgreSQL 15 */
static double
float8_in(const char *str)
{
	const char *num = str;
	char	   *endptr;
	double		val;

	while (*num != '\0' && isspace((unsigned char) *num))
		num++;
	if (*num == '\0')
		invalid_syntax("double precision", str);
	errno = 0;
	val = strtod(num, &endptr);
	if (endptr == num || errno != 0)
	{
		int			save_errno = errno;

		if (pg_strncasecmp(num, "NaN", 3) == 0)
		{
			val = get_float8_nan();
			endptr = (char *) num + 3;
		}
		else if (pg_strncasecmp(num, "Infinity", 8) == 0)
		{
			val = get_float8_infinity();
			endptr = (char *) num + 8;
		}
		else if (pg_strncasecmp(num, "+Infinity", 9) == 0)
		{
			val = get_float8_infinity();
			endptr = (char *) num + 9;
		}
		else if (pg_strncasecmp(num, "-Infinity", 9) == 0)
		{
			val = -get_float8_infinity();
			endptr = (char *) num + 9;
		}
		else if (pg_strncasecmp(num, "inf", 3) == 0)
		{
			val = get_float8_infinity();
			endptr = (char *) num + 3;
		}
		else if (pg_strncasecmp(num, "+inf", 4) == 0)
		{
			val = get_float8_infinity();
			endptr = (char *) num + 4;
		}
		else if (pg_strncasecmp(num, "-inf", 4) == 0)
		{
			val = -get_float8_infinity();
			endptr = (char *) num + 4;
		}
		else if (save_errno == ERANGE)
		{
			if (val == 0.0 || val >= HUGE_VAL || val <= -HUGE_VAL)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("\"%s\" is out of range for type double precision",
								str)));
		}
		else
			invalid_syntax("double precision", str);
	}
	while (*endptr != '\0' && isspace((unsigned char) *endptr))
		endptr++;
	if (*endptr != '\0')
		invalid_syntax("double precision", str);
	return val;
}

/*
 * numeric_in of PostgreSQL 15: syntax, exponent limit and the typmod's
 * precision and scale.  The Datum is the input as text.
 */
static Datum
numeric_in_stub(const char *str, int32 typmod)
{
	const char *cp = str;
	char	   *digs = palloc(strlen(str) + 2);
	int			ndigs = 0;
	int			dpos = 0;		/* digits before the decimal point */
	bool		have_dp = false;
	bool		special = false;

	while (*cp && isspace((unsigned char) *cp))
		cp++;
	if (pg_strncasecmp(cp, "NaN", 3) == 0)
		cp += 3, special = true;
	else if (pg_strncasecmp(cp, "Infinity", 8) == 0)
		cp += 8, special = true;
	else if (pg_strncasecmp(cp, "+Infinity", 9) == 0 ||
			 pg_strncasecmp(cp, "-Infinity", 9) == 0)
		cp += 9, special = true;
	else if (pg_strncasecmp(cp, "inf", 3) == 0)
		cp += 3, special = true;
	else if (pg_strncasecmp(cp, "+inf", 4) == 0 ||
			 pg_strncasecmp(cp, "-inf", 4) == 0)
		cp += 4, special = true;

	if (special)
	{
		while (*cp && isspace((unsigned char) *cp))
			cp++;
		if (*cp != '\0')
			invalid_syntax("numeric", str);
		if (typmod >= (int32) VARHDRSZ && pg_strncasecmp(str + strspn(str, " \t\n\r\v\f"), "nan", 3) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("numeric field overflow"),
					 errdetail("A field with precision %d, scale %d cannot hold an infinite value.",
							   ((typmod - VARHDRSZ) >> 16) & 0xffff,
							   (((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024)));
		return text_datum(str, strlen(str));
	}

	if (*cp == '+' || *cp == '-')
		cp++;
	if (*cp == '.')
	{
		have_dp = true;
		cp++;
	}
	if (!isdigit((unsigned char) *cp))
		invalid_syntax("numeric", str);
	while (*cp)
	{
		if (isdigit((unsigned char) *cp))
		{
			digs[ndigs++] = *cp++;
			if (!have_dp)
				dpos++;
		}
		else if (*cp == '.')
		{
			if (have_dp)
				invalid_syntax("numeric", str);
			have_dp = true;
			cp++;
		}
		else
			break;
	}
	if (*cp == 'e' || *cp == 'E')
	{
		long		exponent;
		char	   *endptr;

		cp++;
		exponent = strtol(cp, &endptr, 10);
		if (endptr == cp)
			invalid_syntax("numeric", str);
		cp = endptr;
		if (exponent > NUMERIC_MAX_PRECISION ||
			exponent < -NUMERIC_MAX_PRECISION)
			invalid_syntax("numeric", str);
		dpos += (int) exponent;
	}
	while (*cp && isspace((unsigned char) *cp))
		cp++;
	if (*cp != '\0')
		invalid_syntax("numeric", str);

	/* leading zeros do not count as integer digits */
	{
		int			lead = 0;

		while (lead < ndigs && digs[lead] == '0')
			lead++;
		memmove(digs, digs + lead, ndigs - lead);
		ndigs -= lead;
		dpos -= lead;
	}

	if (typmod >= (int32) VARHDRSZ && ndigs > 0)
	{
		int			precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
		int			scale = (((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024;
		int			keep = dpos + scale;	/* digits left after rounding */

		if (keep < ndigs)
		{
			bool		up = keep >= 0 && digs[keep] >= '5';

			ndigs = Max(keep, 0);
			if (up)
			{
				int			i = ndigs - 1;

				while (i >= 0 && digs[i] == '9')
					digs[i--] = '0';
				if (i >= 0)
					digs[i]++;
				else
				{
					memmove(digs + 1, digs, ndigs);
					digs[0] = '1';
					ndigs++;
					dpos++;
				}
			}
			while (ndigs > 0 && digs[0] == '0')
			{
				memmove(digs, digs + 1, ndigs - 1);
				ndigs--;
				dpos--;
			}
		}
		if (ndigs > 0 && dpos > precision - scale)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("numeric field overflow"),
					 errdetail("A field with precision %d, scale %d must round to an absolute value less than %s%d.",
							   precision, scale,
							   precision - scale ? "10^" : "",
							   precision - scale ? precision - scale : 1)));
	}
	pfree(digs);
	return text_datum(str, strlen(str));
}

/* parse_bool_with_len of PostgreSQL 15 */
static bool
bool_in(const char *in_str)
{
	const char *str = in_str;
	size_t		len;

	while (isspace((unsigned char) *str))
		str++;
	len = strlen(str);
	while (len > 0 && isspace((unsigned char) str[len - 1]))
		len--;

	switch (*str)
	{
		case 't':
		case 'T':
			if (pg_strncasecmp(str, "true", len) == 0)
				return true;
			break;
		case 'f':
		case 'F':
			if (pg_strncasecmp(str, "false", len) == 0)
				return false;
			break;
		case 'y':
		case 'Y':
			if (pg_strncasecmp(str, "yes", len) == 0)
				return true;
			break;
		case '1':
			if (len == 1)
				return true;
			break;
		case 'o':
		case 'O':
			/* 'o' is not unique enough */
			if (pg_strncasecmp(str, "on", (len > 2 ? len : 2)) == 0)
				return true;
			else if (pg_strncasecmp(str, "off", (len > 2 ? len : 2)) == 0)
				return false;
			break;
		case 'n':
		case 'N':
			if (pg_strncasecmp(str, "no", len) == 0)
				return false;
			break;
		case '0':
			if (len == 1)
				return false;
			break;
		default:
			break;
	}
	invalid_syntax("boolean", in_str);
	return false;				/* keep compiler quiet */
}

/* ----------------------------------------------------------------
 *		Dates and times
 * ----------------------------------------------------------------
 */

/* datetime.c of PostgreSQL 15 */
static int
date2j_pg(int y, int m, int d)
{
	int			julian;
	int			century;

	if (m > 2)
	{
		m += 1;
		y += 4800;
	}
	else
	{
		m += 13;
		y += 4799;
	}
	century = y / 100;
	julian = y * 365 - 32167;
	julian += y / 4 - century + century / 4;
	julian += 7834 * m / 256 + d;
	return julian;
}

void
j2date(int jd, int *year, int *month, int *day)
{
	unsigned int julian;
	unsigned int quad;
	unsigned int extra;
	int			y;

	julian = jd;
	julian += 32044;
	quad = julian / 146097;
	extra = (julian - quad * 146097) * 4 + 3;
	julian += 60 + quad * 3 + extra / 146097;
	quad = julian / 1461;
	julian -= quad * 1461;
	y = julian * 4 / 1461;
	julian = ((y != 0) ? ((julian + 305) % 365) : ((julian + 306) % 366))
		+ 123;
	y += quad * 4;
	*year = y - 4800;
	quad = julian * 2141 / 65536;
	*day = julian - 7834 * quad / 256;
	*month = (quad + 10) % MONTHS_PER_YEAR + 1;
}

void
dt2time(Timestamp jd, int *hour, int *min, int *sec, fsec_t *fsec)
{
	TimeOffset	time = jd;

	*hour = time / USECS_PER_HOUR;
	time -= (*hour) * USECS_PER_HOUR;
	*min = time / USECS_PER_MINUTE;
	time -= (*min) * USECS_PER_MINUTE;
	*sec = time / USECS_PER_SEC;
	*fsec = time - (*sec * USECS_PER_SEC);
}

/* timestamp.c of PostgreSQL 15, for tzp == NULL (UTC) only */
int
timestamp2tm(Timestamp dt, int *tzp, struct pg_tm *tm, fsec_t *fsec,
			 const char **tzn, pg_tz *attimezone)
{
	Timestamp	date;
	Timestamp	time;

	if (tzp != NULL)
		fuzz_fail("timestamp2tm stand-in supports UTC only");
	time = dt;
	TMODULO(time, date, USECS_PER_DAY);
	if (time < INT64CONST(0))
	{
		time += USECS_PER_DAY;
		date -= 1;
	}
	date += POSTGRES_EPOCH_JDATE;
	if (date < 0 || date > (Timestamp) INT_MAX)
		return -1;
	j2date((int) date, &tm->tm_year, &tm->tm_mon, &tm->tm_mday);
	dt2time(time, &tm->tm_hour, &tm->tm_min, &tm->tm_sec, fsec);
	tm->tm_isdst = -1;
	tm->tm_gmtoff = 0;
	tm->tm_zone = NULL;
	if (tzn != NULL)
		*tzn = NULL;
	return 0;
}

/* timestamp.c of PostgreSQL 15 */
void
AdjustTimestampForTypmod(Timestamp *time, int32 typmod)
{
	static const int64 TimestampScales[MAX_TIMESTAMP_PRECISION + 1] = {
		INT64CONST(1000000), INT64CONST(100000), INT64CONST(10000),
		INT64CONST(1000), INT64CONST(100), INT64CONST(10), INT64CONST(1)
	};
	static const int64 TimestampOffsets[MAX_TIMESTAMP_PRECISION + 1] = {
		INT64CONST(500000), INT64CONST(50000), INT64CONST(5000),
		INT64CONST(500), INT64CONST(50), INT64CONST(5), INT64CONST(0)
	};

	if (!TIMESTAMP_NOT_FINITE(*time)
		&& (typmod != -1) && (typmod != MAX_TIMESTAMP_PRECISION))
	{
		if (typmod < 0 || typmod > MAX_TIMESTAMP_PRECISION)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timestamp(%d) precision must be between %d and %d",
							typmod, 0, MAX_TIMESTAMP_PRECISION)));
		if (*time >= INT64CONST(0))
			*time = ((*time + TimestampOffsets[typmod]) / TimestampScales[typmod]) *
				TimestampScales[typmod];
		else
			*time = -((((-*time) + TimestampOffsets[typmod]) / TimestampScales[typmod])
					  * TimestampScales[typmod]);
	}
}

/* day_tab of datetime.c */
static const int month_days[2][12] = {
	{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31},
	{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
};

typedef enum
{
	DT_OK,
	DT_BAD_FORMAT,				/* 22007 */
	DT_FIELD_OVERFLOW,			/* 22008 */
	DT_TZDISP_OVERFLOW			/* 22009 */
} DtResult;

typedef struct FuzzDateTime
{
	int			special;		/* 0, 1 infinity, -1 -infinity, 2 epoch */
	int			year,
				mon,
				mday,
				hour,
				min,
				sec;
	int64		fsec;
	bool		has_time;
	bool		has_tz;
	int			tz;				/* seconds east of UTC */
} FuzzDateTime;

/* n digits at *p (1..max), value in *v */
static bool
read_num(const char **p, int min, int max, int *v)
{
	int			n = 0;

	*v = 0;
	while (isdigit((unsigned char) (*p)[n]) && n < max)
	{
		*v = *v * 10 + ((*p)[n] - '0');
		n++;
	}
	if (n < min || isdigit((unsigned char) (*p)[n]))
		return false;
	*p += n;
	return true;
}

static DtResult
parse_datetime(const char *str, FuzzDateTime *dt)
{
	const char *p = str;

	memset(dt, 0, sizeof(*dt));
	while (isspace((unsigned char) *p))
		p++;
	if (pg_strncasecmp(p, "infinity", 8) == 0 ||
		pg_strncasecmp(p, "+infinity", 9) == 0)
		dt->special = 1, p += (*p == '+') ? 9 : 8;
	else if (pg_strncasecmp(p, "-infinity", 9) == 0)
		dt->special = -1, p += 9;
	else if (pg_strncasecmp(p, "epoch", 5) == 0)
		dt->special = 2, p += 5;
	if (dt->special)
	{
		while (isspace((unsigned char) *p))
			p++;
		return *p == '\0' ? DT_OK : DT_BAD_FORMAT;
	}

	if (!read_num(&p, 4, 6, &dt->year) || *p++ != '-' ||
		!read_num(&p, 1, 2, &dt->mon) || *p++ != '-' ||
		!read_num(&p, 1, 2, &dt->mday))
		return DT_BAD_FORMAT;
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char) p[1])))
	{
		p++;
		dt->has_time = true;
		if (!read_num(&p, 1, 2, &dt->hour) || *p++ != ':' ||
			!read_num(&p, 1, 2, &dt->min))
			return DT_BAD_FORMAT;
		if (*p == ':')
		{
			p++;
			if (!read_num(&p, 1, 2, &dt->sec))
				return DT_BAD_FORMAT;
			if (*p == '.')
			{
				const char *f = p;
				char	   *end;
				double		frac;

				p++;
				while (isdigit((unsigned char) *p))
					p++;
				if (p == f + 1)
					return DT_BAD_FORMAT;
				/* ParseFractionalSecond: rint(frac * 1000000) */
				frac = strtod(pnstrdup(f, p - f), &end);
				dt->fsec = (int64) rint(frac * 1000000);
			}
		}
	}
	while (*p == ' ')
		p++;
	if (*p == 'Z' || *p == 'z')
	{
		dt->has_tz = true;
		p++;
	}
	else if (*p == '+' || *p == '-')
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			hr = 0,
					mn = 0,
					sc = 0;
		int			ndig;

		p++;
		ndig = (int) strspn(p, "0123456789");
		if (ndig == 0)
			return DT_BAD_FORMAT;
		if (p[ndig] == ':')
		{
			if (!read_num(&p, 1, 2, &hr) || *p++ != ':' ||
				!read_num(&p, 1, 2, &mn))
				return DT_BAD_FORMAT;
			if (*p == ':')
			{
				p++;
				if (!read_num(&p, 1, 2, &sc))
					return DT_BAD_FORMAT;
			}
		}
		else if (ndig <= 2)
			(void) read_num(&p, 1, 2, &hr);
		else if (ndig == 4)
		{
			hr = (p[0] - '0') * 10 + (p[1] - '0');
			mn = (p[2] - '0') * 10 + (p[3] - '0');
			p += 4;
		}
		else if (ndig == 6)
		{
			hr = (p[0] - '0') * 10 + (p[1] - '0');
			mn = (p[2] - '0') * 10 + (p[3] - '0');
			sc = (p[4] - '0') * 10 + (p[5] - '0');
			p += 6;
		}
		else
			return DT_BAD_FORMAT;
		if (hr > MAX_TZDISP_HOUR || mn >= 60 || sc >= 60)
			return DT_TZDISP_OVERFLOW;
		dt->has_tz = true;
		dt->tz = sign * (hr * 3600 + mn * 60 + sc);
	}
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0')
		return DT_BAD_FORMAT;

	/* ValidateDate and DecodeTime of PostgreSQL 15 */
	if (dt->year < 1 || dt->mon < 1 || dt->mon > 12 || dt->mday < 1 ||
		dt->mday > month_days[isleap(dt->year)][dt->mon - 1])
		return DT_FIELD_OVERFLOW;
	if (dt->min > 59 || dt->sec > 60 || dt->hour > 24 ||
		(dt->hour == 24 && (dt->min > 0 || dt->sec > 0 || dt->fsec > 0)) ||
		dt->fsec < 0 || dt->fsec > USECS_PER_SEC)
		return DT_FIELD_OVERFLOW;
	return DT_OK;
}

static void
datetime_error(DtResult r, const char *type, const char *str)
{
	switch (r)
	{
		case DT_OK:
			return;
		case DT_FIELD_OVERFLOW:
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
					 errmsg("date/time field value out of range: \"%s\"", str)));
			break;
		case DT_TZDISP_OVERFLOW:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TIME_ZONE_DISPLACEMENT_VALUE),
					 errmsg("time zone displacement out of range: \"%s\"", str)));
			break;
		case DT_BAD_FORMAT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
					 errmsg("invalid input syntax for type %s: \"%s\"", type, str)));
			break;
	}
}

/* timestamp or timestamptz; use_tz: apply the zone (else it is ignored) */
static Timestamp
timestamp_in_stub(const char *str, int32 typmod, bool use_tz, const char *type)
{
	FuzzDateTime dt;
	int64		days;
	Timestamp	result;

	datetime_error(parse_datetime(str, &dt), type, str);
	if (dt.special == 1)
		return DT_NOEND;
	if (dt.special == -1)
		return DT_NOBEGIN;
	if (dt.special == 2)
		return (Timestamp) (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;

	/* tm2timestamp and dt2local: Julian range, overflow-checked */
	if (!IS_VALID_JULIAN(dt.year, dt.mon, dt.mday))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range: \"%s\"", str)));
	days = date2j_pg(dt.year, dt.mon, dt.mday) - POSTGRES_EPOCH_JDATE;
	if (pg_mul_s64_overflow(days, USECS_PER_DAY, &result) ||
		pg_add_s64_overflow(result,
							((((int64) dt.hour * 60) + dt.min) * 60 + dt.sec) *
							USECS_PER_SEC + dt.fsec, &result) ||
		(use_tz && pg_sub_s64_overflow(result, (int64) dt.tz * USECS_PER_SEC,
									   &result)) ||
		!IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range: \"%s\"", str)));
	AdjustTimestampForTypmod(&result, typmod);
	return result;
}

static DateADT
date_in_stub(const char *str)
{
	FuzzDateTime dt;

	datetime_error(parse_datetime(str, &dt), "date", str);
	if (dt.special == 1)
		return DATEVAL_NOEND;
	if (dt.special == -1)
		return DATEVAL_NOBEGIN;
	if (dt.special == 2)
		return UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE;
	if (!IS_VALID_JULIAN(dt.year, dt.mon, dt.mday) ||
		!IS_VALID_DATE(date2j_pg(dt.year, dt.mon, dt.mday) - POSTGRES_EPOCH_JDATE))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("date out of range: \"%s\"", str)));
	return date2j_pg(dt.year, dt.mon, dt.mday) - POSTGRES_EPOCH_JDATE;
}

/* ----------------------------------------------------------------
 *		Text, uuid, JSON
 * ----------------------------------------------------------------
 */

/* pg_mbcharcliplen of PostgreSQL 15 */
static int
mbcharcliplen(const char *mbstr, int len, int limit)
{
	int			clen = 0;
	int			nch = 0;

	if (pg_database_encoding_max_length() == 1)
	{
		len = Min(len, limit);
		while (clen < len && mbstr[clen])
			clen++;
		return clen;
	}
	while (len > 0 && *mbstr)
	{
		int			l = pg_mblen(mbstr);

		nch++;
		if (nch > limit)
			break;
		clen += l;
		len -= l;
		mbstr += l;
	}
	return clen;
}

/* varchar_input of PostgreSQL 15 */
static Datum
varchar_in(const char *s, int32 atttypmod)
{
	size_t		len = strlen(s);

	if (atttypmod >= (int32) VARHDRSZ)
	{
		size_t		maxlen = atttypmod - VARHDRSZ;

		if (len > maxlen)
		{
			size_t		mbmaxlen = mbcharcliplen(s, len, maxlen);

			for (size_t j = mbmaxlen; j < len; j++)
			{
				if (s[j] != ' ')
					ereport(ERROR,
							(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
							 errmsg("value too long for type character varying(%d)",
									(int) maxlen)));
			}
			len = mbmaxlen;
		}
	}
	return text_datum(s, len);
}

/* string_to_uuid of PostgreSQL 15 */
static Datum
uuid_in_stub(const char *source)
{
	const char *src = source;
	bool		braces = false;
	pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

	if (src[0] == '{')
	{
		src++;
		braces = true;
	}
	for (int i = 0; i < UUID_LEN; i++)
	{
		char		str_buf[3];

		if (src[0] == '\0' || src[1] == '\0')
			invalid_syntax("uuid", source);
		memcpy(str_buf, src, 2);
		if (!isxdigit((unsigned char) str_buf[0]) ||
			!isxdigit((unsigned char) str_buf[1]))
			invalid_syntax("uuid", source);
		str_buf[2] = '\0';
		uuid->data[i] = (unsigned char) strtoul(str_buf, NULL, 16);
		src += 2;
		if (src[0] == '-' && (i % 2) == 1 && i < UUID_LEN - 1)
			src++;
	}
	if (braces)
	{
		if (*src != '}')
			invalid_syntax("uuid", source);
		src++;
	}
	if (*src != '\0')
		invalid_syntax("uuid", source);
	return UUIDPGetDatum(uuid);
}

/* jsonb: every number must be a valid numeric, as jsonb_in_scalar makes it */
static void
jsonb_scalar(void *state, char *token, JsonTokenType tokentype)
{
	if (tokentype == JSON_TOKEN_NUMBER)
		(void) numeric_in_stub(token, -1);
}

/* json_in (need_escapes false) and jsonb_in (true) of PostgreSQL 15 */
static Datum
json_in_stub(const char *str, bool jsonb)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	JsonParseErrorType result;

	lex = makeJsonLexContextCstringLen(unconstify(char *, str), strlen(str),
									   GetDatabaseEncoding(), jsonb);
	memset(&sem, 0, sizeof(sem));
	if (jsonb)
		sem.scalar = jsonb_scalar;
	result = pg_parse_json(lex, jsonb ? &sem : &nullSemAction);
	if (result != JSON_SUCCESS)
		ereport(ERROR,
				(errcode((result == JSON_UNICODE_CODE_POINT_ZERO ||
						  result == JSON_UNICODE_HIGH_ESCAPE) ?
						 ERRCODE_UNTRANSLATABLE_CHARACTER :
						 ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s", jsonb ? "jsonb" : "json"),
				 errdetail("JSON parse error %d.", (int) result)));
	return text_datum(str, strlen(str));
}

/* ----------------------------------------------------------------
 *		Arrays
 * ----------------------------------------------------------------
 */

ArrayType *
construct_empty_array(Oid elmtype)
{
	ArrayType  *result = palloc0(sizeof(ArrayType));

	SET_VARSIZE(result, sizeof(ArrayType));
	result->ndim = 0;
	result->dataoffset = 0;
	result->elemtype = elmtype;
	return result;
}

ArrayType *
construct_md_array(Datum *elems, bool *nulls, int ndims, int *dims, int *lbs,
				   Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	ArrayType  *result;
	int			nelems;
	int32		nbytes = 0;
	int32		dataoffset;
	bool		hasnulls = false;
	char	   *p;
	bits8	   *bitmap;

	if (ndims != 1)
		fuzz_fail("construct_md_array stand-in: %d dimensions", ndims);
	nelems = dims[0];
	if (nelems <= 0 || nelems > (int) MaxArraySize)
		fuzz_fail("construct_md_array stand-in: %d elements", nelems);
	for (int i = 0; i < nelems; i++)
	{
		if (nulls && nulls[i])
		{
			hasnulls = true;
			continue;
		}
		/* reads a varlena's header: a bad pointer is an ASan report */
		nbytes = att_addlength_datum(nbytes, elmlen, elems[i]);
		nbytes = att_align_nominal(nbytes, elmalign);
		if (!AllocSizeIsValid(nbytes))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("array size exceeds the maximum allowed (%d)",
							(int) MaxAllocSize)));
	}
	if (hasnulls)
	{
		dataoffset = ARR_OVERHEAD_WITHNULLS(ndims, nelems);
		nbytes += dataoffset;
	}
	else
	{
		dataoffset = 0;
		nbytes += ARR_OVERHEAD_NONULLS(ndims);
	}
	result = palloc0(nbytes);
	SET_VARSIZE(result, nbytes);
	result->ndim = ndims;
	result->dataoffset = dataoffset;
	result->elemtype = elmtype;
	memcpy(ARR_DIMS(result), dims, ndims * sizeof(int));
	memcpy(ARR_LBOUND(result), lbs, ndims * sizeof(int));

	p = ARR_DATA_PTR(result);
	bitmap = ARR_NULLBITMAP(result);
	for (int i = 0; i < nelems; i++)
	{
		if (nulls && nulls[i])
			continue;
		if (bitmap)
			bitmap[i / 8] |= (1 << (i % 8));
		if (elmbyval)
			store_att_byval(p, elems[i], elmlen);
		else
			memmove(p, DatumGetPointer(elems[i]),
					att_addlength_datum(0, elmlen, elems[i]));
		p += att_addlength_datum(0, elmlen, elems[i]);
		p = (char *) att_align_nominal(p, elmalign);
	}
	return result;
}

static bool
array_isspace(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
		ch == '\v' || ch == '\f';
}

static void
malformed_array(const char *str, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("malformed array literal: \"%s\"", str),
			 errdetail("%s", detail)));
}

/* one dimension of array_in; elements through their type's stand-in */
static Datum
array_in_stub(const char *str, Oid elemtype, int32 typmod)
{
	const FuzzType *et = lookup_type(elemtype);
	const char *p = str;
	char	   *buf = palloc(strlen(str) + 1);
	Datum	   *vals;
	bool	   *nulls;
	int			n = 0;
	int			cap = 8;
	int			dims[1];
	int			lbs[1];

	while (array_isspace(*p))
		p++;
	if (*p == '[')
		malformed_array(str, "Dimension decorations are not supported by the fuzzing stand-in.");
	if (*p != '{')
		malformed_array(str, "Array value must start with \"{\" or dimension information.");
	p++;
	while (array_isspace(*p))
		p++;
	vals = palloc(cap * sizeof(Datum));
	nulls = palloc(cap * sizeof(bool));
	if (*p == '}')
		p++;
	else
	{
		for (;;)
		{
			int			o = 0;
			bool		quoted = false;
			bool		any_quote = false;

			while (array_isspace(*p))
				p++;
			if (*p == '{')
				malformed_array(str, "Nested arrays are not supported by the fuzzing stand-in.");
			while (*p != '\0')
			{
				if (*p == '\\')
				{
					if (p[1] == '\0')
						malformed_array(str, "Unexpected end of input.");
					buf[o++] = p[1];
					p += 2;
				}
				else if (*p == '"')
				{
					quoted = !quoted;
					any_quote = true;
					p++;
				}
				else if (!quoted && (*p == ',' || *p == '}' || *p == '{'))
					break;
				else
					buf[o++] = *p++;
			}
			if (quoted || *p == '\0' || *p == '{')
				malformed_array(str, "Unexpected end of input or \"{\".");
			if (!any_quote)
				while (o > 0 && array_isspace(buf[o - 1]))
					o--;
			buf[o] = '\0';
			if (o == 0 && !any_quote)
				malformed_array(str, "Unexpected \",\" or \"}\" character.");
			if (n == cap)
			{
				cap *= 2;
				vals = repalloc(vals, cap * sizeof(Datum));
				nulls = repalloc(nulls, cap * sizeof(bool));
			}
			nulls[n] = !any_quote && pg_strcasecmp(buf, "NULL") == 0;
			vals[n] = nulls[n] ? (Datum) 0 : fuzz_input(elemtype, buf, typmod);
			n++;
			if (*p++ == '}')
				break;
		}
	}
	while (array_isspace(*p))
		p++;
	if (*p != '\0')
		malformed_array(str, "Junk after closing right brace.");
	if (n == 0)
		return PointerGetDatum(construct_empty_array(elemtype));
	dims[0] = n;
	lbs[0] = 1;
	return PointerGetDatum(construct_md_array(vals, nulls, 1, dims, lbs,
											  elemtype, et->len, et->byval,
											  et->align));
}

/* ----------------------------------------------------------------
 *		Dispatch
 * ----------------------------------------------------------------
 */

static Datum
call_input(Oid infunc, const char *str, Oid typioparam, int32 typmod)
{
	switch (infunc)
	{
		case F_BOOLIN:
			return BoolGetDatum(bool_in(str));
		case F_INT2IN:
			return Int16GetDatum((int16) int_in(str, PG_INT16_MIN, PG_INT16_MAX, "smallint"));
		case F_INT4IN:
			return Int32GetDatum((int32) int_in(str, PG_INT32_MIN, PG_INT32_MAX, "integer"));
		case F_INT8IN:
			return Int64GetDatum(int_in(str, PG_INT64_MIN, PG_INT64_MAX, "bigint"));
		case F_FLOAT8IN:
			return Float8GetDatum(float8_in(str));
		case F_NUMERIC_IN:
			return numeric_in_stub(str, typmod);
		case F_TEXTIN:
			return text_datum(str, strlen(str));
		case F_VARCHARIN:
			return varchar_in(str, typmod);
		case F_DATE_IN:
			return DateADTGetDatum(date_in_stub(str));
		case F_TIMESTAMP_IN:
			return TimestampGetDatum(timestamp_in_stub(str, typmod, false,
													   "timestamp"));
		case F_TIMESTAMPTZ_IN:
			return TimestampTzGetDatum(timestamp_in_stub(str, typmod, true,
														 "timestamp with time zone"));
		case F_JSON_IN:
			return json_in_stub(str, false);
		case F_JSONB_IN:
			return json_in_stub(str, true);
		case F_UUID_IN:
			return uuid_in_stub(str);
		case F_ARRAY_IN:
			return array_in_stub(str, typioparam, typmod);
	}
	elog(ERROR, "stand-in has no input function %u", infunc);
	return (Datum) 0;
}

Datum
InputFunctionCall(FmgrInfo *flinfo, char *str, Oid typioparam, int32 typmod)
{
	if (str == NULL && flinfo->fn_strict)
		return (Datum) 0;
	if (str == NULL)
		fuzz_fail("input function %u called with NULL", flinfo->fn_oid);
	return call_input(flinfo->fn_oid, str, typioparam, typmod);
}

/* the input function of typid, as InputFunctionCall with its I/O param */
Datum
fuzz_input(Oid typid, const char *str, int32 typmod)
{
	Oid			infunc;
	Oid			ioparam;

	getTypeInputInfo(typid, &infunc, &ioparam);
	return call_input(infunc, str, ioparam, typmod);
}

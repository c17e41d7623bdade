/*-------------------------------------------------------------------------
 *
 * fuzz_json.c
 *		  libFuzzer harness for src/json.c: response bodies to rows, error
 *		  bodies, and request bodies built from their strings.
 *
 * Each input is a response body (NUL-terminated after its length, as
 * http.c hands it over) and goes through:
 *
 * 1. pgapi_json_error_fields(), as for an error response, in each database
 *    encoding.  It must never raise an ERROR, and every text it returns
 *    must be at most 1 KiB, free of control characters and valid in the
 *    database encoding (it goes into DETAIL).
 * 2. pgapi_json_parse(), as the scan does: the only ERRORs allowed are
 *    22021 (not UTF-8), HV00M (not one JSON document) and 54000.
 * 3. If it parsed, a walk over the whole tree with the accessors the row
 *    iterator uses, in the UTF-8, LATIN1 and SQL_ASCII database encodings:
 *    every member of every object and every element of every array (the
 *    first FUZZ_MAX_VALUES values) is converted with pgapi_json_to_datum()
 *    for each column of the fixed set below, which covers every
 *    PgApiConvKind and, for arrays, every element kind.  Checks on the
 *    way: pgapi_json_object_entry() in and out of order agrees with
 *    pgapi_json_get(); a compiled path (member name or JSON pointer)
 *    finds what a naive walk finds; JSON null gives SQL NULL and nothing
 *    else does; an integer taken by the int2/int4/int8 fast path equals
 *    what the input function makes of its text; arrays have one element
 *    per JSON element; pgapi_json_to_text() of any value parses again;
 *    every Datum is read to its last byte.
 * 4. The builder: the strings and member names found are added with
 *    pgapi_jb_add_string() (and parsed with pgapi_jb_add_json(), which may
 *    only fail with 22P02), with nested builders, integers, booleans and
 *    nulls; the finished text must parse again, and in a UTF-8 database
 *    give back every string added under its name.
 *
 * Any other ERROR is allowed, except XX000 (pgstub.c aborts on it); so is
 * any check above failing (fuzz_fail aborts).  AddressSanitizer,
 * UndefinedBehaviorSanitizer and LeakSanitizer watch the rest: json-c
 * trees are malloc'd, so a tree leaked on an error path is a leak report.
 *
 * The type input functions are pgtypes.c's stand-ins: what they accept
 * differs from PostgreSQL's in places (see there), which changes which
 * values end in an ERROR, not which paths of json.c run.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/test/fuzz/fuzz_json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/uuid.h"

#include "pgapi_fdw.h"
#include "pgstub.h"

/* Values converted per encoding; bounds the time per input. */
#define FUZZ_MAX_VALUES 160

/* Strings and names kept for the builder. */
#define FUZZ_MAX_STRINGS 48

/* Where the builder check puts its array (a control character: escaped). */
#define BUILDER_ARRAY_KEY "\x01 array"

typedef struct FuzzColumn
{
	const char *label;
	Oid			typid;
	int32		typmod;
	PgApiConvKind kind;			/* what conv_kind_for must give */
	PgApiConvKind elemkind;		/* arrays: for the element type */
	PgApiColumnConv conv;
} FuzzColumn;

#define NUMERIC_TYPMOD(p, s)	((((p) << 16) | (s)) + VARHDRSZ)

static FuzzColumn columns[] = {
	{"text", TEXTOID, -1, PGAPI_CONV_TEXT},
	{"varchar", VARCHAROID, -1, PGAPI_CONV_TEXT},
	{"varchar(8)", VARCHAROID, 8 + VARHDRSZ, PGAPI_CONV_INPUT},
	{"smallint", INT2OID, -1, PGAPI_CONV_INPUT},
	{"integer", INT4OID, -1, PGAPI_CONV_INPUT},
	{"bigint", INT8OID, -1, PGAPI_CONV_INPUT},
	{"double precision", FLOAT8OID, -1, PGAPI_CONV_INPUT},
	{"numeric", NUMERICOID, -1, PGAPI_CONV_INPUT},
	{"numeric(5,2)", NUMERICOID, NUMERIC_TYPMOD(5, 2), PGAPI_CONV_INPUT},
	{"boolean", BOOLOID, -1, PGAPI_CONV_INPUT},
	{"date", DATEOID, -1, PGAPI_CONV_INPUT},
	{"timestamp", TIMESTAMPOID, -1, PGAPI_CONV_INPUT},
	{"timestamptz", TIMESTAMPTZOID, -1, PGAPI_CONV_TIMESTAMPTZ},
	{"timestamptz(0)", TIMESTAMPTZOID, 0, PGAPI_CONV_TIMESTAMPTZ},
	{"timestamptz(3)", TIMESTAMPTZOID, 3, PGAPI_CONV_TIMESTAMPTZ},
	{"json", JSONOID, -1, PGAPI_CONV_JSON},
	{"jsonb", JSONBOID, -1, PGAPI_CONV_JSON},
	{"uuid", UUIDOID, -1, PGAPI_CONV_INPUT},
	{"text[]", TEXTARRAYOID, -1, PGAPI_CONV_ARRAY, PGAPI_CONV_TEXT},
	{"varchar(4)[]", VARCHARARRAYOID, 4 + VARHDRSZ, PGAPI_CONV_ARRAY, PGAPI_CONV_INPUT},
	{"integer[]", INT4ARRAYOID, -1, PGAPI_CONV_ARRAY, PGAPI_CONV_INPUT},
	{"bigint[]", INT8ARRAYOID, -1, PGAPI_CONV_ARRAY, PGAPI_CONV_INPUT},
	{"double precision[]", FLOAT8ARRAYOID, -1, PGAPI_CONV_ARRAY, PGAPI_CONV_INPUT},
	{"boolean[]", BOOLARRAYOID, -1, PGAPI_CONV_ARRAY, PGAPI_CONV_INPUT},
	{"timestamptz[]", TIMESTAMPTZARRAYOID, -1, PGAPI_CONV_ARRAY, PGAPI_CONV_TIMESTAMPTZ},
	{"jsonb[]", JSONBARRAYOID, -1, PGAPI_CONV_ARRAY, PGAPI_CONV_JSON},
};

static const int encodings[] = {PG_UTF8, PG_LATIN1, PG_SQL_ASCII};

static MemoryContext scan_cxt;		/* the column conversions */
static MemoryContext page_cxt;		/* a document, as the scan's page */
static MemoryContext tuple_cxt;		/* per value, as the per-tuple context */
static MemoryContext build_cxt;		/* builders and their output */

/* what the walk collects */
typedef struct FuzzWalk
{
	int			nvalues;
	int			nstrings;
	const char *names[FUZZ_MAX_STRINGS];	/* member name, or NULL */
	const char *strings[FUZZ_MAX_STRINGS];
} FuzzWalk;

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bool		kinds[PGAPI_CONV_ARRAY + 1] = {false};
	bool		elemkinds[PGAPI_CONV_ARRAY + 1] = {false};

	scan_cxt = fuzz_context_create("scan");
	page_cxt = fuzz_context_create("page");
	tuple_cxt = fuzz_context_create("tuple");
	build_cxt = fuzz_context_create("build");

	fuzz_begin();
	MemoryContextSwitchTo(scan_cxt);
	PG_TRY();
	{
		for (int c = 0; c < lengthof(columns); c++)
		{
			FuzzColumn *col = &columns[c];

			pgapi_json_init_conv(&col->conv, col->typid, col->typmod);
			if (col->conv.kind != col->kind ||
				(col->kind == PGAPI_CONV_ARRAY &&
				 col->conv.elemkind != col->elemkind))
				fuzz_fail("column %s: conversion kind %d/%d, expected %d/%d",
						  col->label, col->conv.kind, col->conv.elemkind,
						  col->kind, col->elemkind);
			kinds[col->kind] = true;
			if (col->kind == PGAPI_CONV_ARRAY)
				elemkinds[col->elemkind] = true;
		}
	}
	PG_CATCH();
	{
		fuzz_fail("pgapi_json_init_conv failed: %s", fuzz_errmsg);
	}
	PG_END_TRY();
	for (int k = 0; k <= PGAPI_CONV_ARRAY; k++)
		if (!kinds[k] || (k != PGAPI_CONV_ARRAY && !elemkinds[k]))
			fuzz_fail("the column set misses conversion kind %d", k);
	return 0;
}

/* ----------------------------------------------------------------
 *		Checks on results
 * ----------------------------------------------------------------
 */

/* sums of what was read, so the reads are not optimized away */
static volatile unsigned touched;

/* read every byte of a varlena, so ASan sees a bad length or pointer */
static void
touch_varlena(Datum d)
{
	const char *p = DatumGetPointer(d);
	unsigned	sum = 0;
	Size		len = VARSIZE_ANY(p);

	if (len < VARHDRSZ_SHORT)
		fuzz_fail("varlena of %zu bytes", len);
	for (Size i = 0; i < len; i++)
		sum += (unsigned char) p[i];
	touched += sum;
}

/* is s[0..len) valid in the database encoding, free of control chars? */
static void
check_detail_text(const char *what, const char *s)
{
	size_t		len;

	if (s == NULL)
		return;
	len = strlen(s);
	if (len > 1024)
		fuzz_fail("%s: %zu bytes, more than the 1 KiB cap", what, len);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f)
			fuzz_fail("%s: control character 0x%02x at byte %zu", what, c, i);
		if (c >= 0x80 && fuzz_encoding != PG_UTF8)
			fuzz_fail("%s: non-ASCII byte 0x%02x in a %s database", what, c,
					  pg_encoding_to_char(fuzz_encoding));
	}
	if (pg_encoding_verifymbstr(fuzz_encoding, s, (int) len) != (int) len)
		fuzz_fail("%s: not valid %s", what, pg_encoding_to_char(fuzz_encoding));
}

/* the SQL NULL-ness and the Datum of one conversion */
static void
check_datum(FuzzColumn *col, PgApiJsonValue v, Datum d, bool isnull)
{
	PgApiJsonType jt = pgapi_json_type(v);

	if (isnull != (jt == PGAPI_JSON_NULL))
		fuzz_fail("column %s: isnull %d for JSON type %d", col->label,
				  isnull, jt);
	if (isnull)
		return;

	switch (col->typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			if (jt == PGAPI_JSON_INT)
			{
				/* the fast path must agree with the input function */
				char	   *t = pgapi_json_scalar_text(v);
				Datum		r = 0;
				int64		got;
				int64		want;

				PG_TRY();
				{
					r = fuzz_input(col->typid, t, col->typmod);
				}
				PG_CATCH();
				{
					fuzz_fail("column %s: %s taken, but its input function says %s",
							  col->label, t, fuzz_errmsg);
				}
				PG_END_TRY();
				got = col->typid == INT8OID ? DatumGetInt64(d) :
					col->typid == INT4OID ? DatumGetInt32(d) : DatumGetInt16(d);
				want = col->typid == INT8OID ? DatumGetInt64(r) :
					col->typid == INT4OID ? DatumGetInt32(r) : DatumGetInt16(r);
				if (got != want)
					fuzz_fail("column %s: integer %s read as " INT64_FORMAT,
							  col->label, t, got);
			}
			break;
		case TIMESTAMPTZOID:
			{
				TimestampTz ts = DatumGetTimestampTz(d);

				/* typmod rounding may reach END_TIMESTAMP, as in PostgreSQL */
				if (!TIMESTAMP_NOT_FINITE(ts) &&
					(ts < MIN_TIMESTAMP || ts > END_TIMESTAMP ||
					 (col->typmod < 0 && ts == END_TIMESTAMP)))
					fuzz_fail("column %s: timestamp " INT64_FORMAT " out of range",
							  col->label, ts);
			}
			break;
		case BOOLOID:
		case FLOAT8OID:
		case DATEOID:
		case TIMESTAMPOID:
			break;
		case UUIDOID:
			{
				for (int i = 0; i < UUID_LEN; i++)
					touched += ((unsigned char *) DatumGetPointer(d))[i];
			}
			break;
		default:
			touch_varlena(d);
			if (col->kind == PGAPI_CONV_ARRAY)
			{
				ArrayType  *a = (ArrayType *) DatumGetPointer(d);

				if (ARR_NDIM(a) > 1 || ARR_ELEMTYPE(a) != col->conv.elemtype)
					fuzz_fail("column %s: array of %d dimensions, type %u",
							  col->label, ARR_NDIM(a), ARR_ELEMTYPE(a));
				if (jt == PGAPI_JSON_ARRAY &&
					(ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0]) !=
					pgapi_json_array_length(v))
					fuzz_fail("column %s: %d elements for a JSON array of %d",
							  col->label, ARR_NDIM(a) ? ARR_DIMS(a)[0] : 0,
							  pgapi_json_array_length(v));
			}
			else if (col->kind == PGAPI_CONV_TEXT && fuzz_encoding == PG_UTF8)
			{
				char	   *t = pgapi_json_scalar_text(v);

				if (VARSIZE_ANY_EXHDR(DatumGetPointer(d)) != strlen(t) ||
					memcmp(VARDATA_ANY(DatumGetPointer(d)), t, strlen(t)) != 0)
					fuzz_fail("column %s: text differs from the value's text",
							  col->label);
			}
			break;
	}
}

/* one value into every column, each in its own PG_TRY */
static void
convert_all(PgApiJsonValue v)
{
	MemoryContext old = MemoryContextSwitchTo(tuple_cxt);

	for (int c = 0; c < lengthof(columns); c++)
	{
		PG_TRY();
		{
			bool		isnull;
			Datum		d = pgapi_json_to_datum(v, &columns[c].conv, &isnull);

			check_datum(&columns[c], v, d, isnull);
		}
		PG_CATCH();
		{
			fuzz_caught();
		}
		PG_END_TRY();
	}

	/* the text forms, as graphql.c and scan.c read ids and payloads */
	PG_TRY();
	{
		(void) pgapi_json_scalar_text(v);
	}
	PG_CATCH();
	{
		fuzz_caught();
	}
	PG_END_TRY();
	PG_TRY();
	{
		char	   *t = pgapi_json_to_text(v);

		/* any value's JSON text is one JSON document again */
		PG_TRY();
		{
			(void) pgapi_json_parse(t, strlen(t));
		}
		PG_CATCH();
		{
			fuzz_fail("pgapi_json_to_text gave text that does not parse (%s): %.200s",
					  fuzz_errmsg, t);
		}
		PG_END_TRY();
	}
	PG_CATCH();
	{
		fuzz_caught();
	}
	PG_END_TRY();

	MemoryContextSwitchTo(old);
	fuzz_context_reset(tuple_cxt);
}

/* RFC 6901 the slow way, with the public accessors */
static PgApiJsonValue
naive_pointer(PgApiJsonValue v, const char *ptr)
{
	const char *p = ptr + 1;

	for (;;)
	{
		const char *e = strchr(p, '/');
		size_t		l = e ? (size_t) (e - p) : strlen(p);
		char	   *k = palloc(l + 1);
		size_t		o = 0;

		for (size_t j = 0; j < l; j++)
		{
			if (p[j] == '~' && j + 1 < l && p[j + 1] == '0')
				k[o++] = '~', j++;
			else if (p[j] == '~' && j + 1 < l && p[j + 1] == '1')
				k[o++] = '/', j++;
			else
				k[o++] = p[j];
		}
		k[o] = '\0';
		if (pgapi_json_type(v) == PGAPI_JSON_OBJECT)
			v = pgapi_json_get(v, k);
		else if (pgapi_json_type(v) == PGAPI_JSON_ARRAY)
		{
			if (k[0] >= '0' && k[0] <= '9' && (k[0] != '0' || k[1] == '\0') &&
				strlen(k) <= 9 && strspn(k, "0123456789") == strlen(k))
				v = pgapi_json_array_get(v, atoi(k));
			else
				v = NULL;
		}
		else
			v = NULL;
		if (v == NULL || e == NULL)
			return v;
		p = e + 1;
	}
}

/* compile a member name or pointer and look it up both ways */
static void
check_path(PgApiJsonValue root, PgApiJsonValue obj, const char *field,
		   PgApiJsonValue expect)
{
	MemoryContext old = MemoryContextSwitchTo(tuple_cxt);

	PG_TRY();
	{
		PgApiJsonPath *path = pgapi_json_compile_path(field);
		PgApiJsonValue got;

		if (field[0] == '/')
		{
			got = pgapi_json_get_path(root, path);
			expect = naive_pointer(root, field);
		}
		else
			got = pgapi_json_get_path(obj, path);
		if (got != expect)
			fuzz_fail("compiled path \"%.100s\" finds %p, expected %p",
					  field, (const void *) got, (const void *) expect);
	}
	PG_CATCH();
	{
		/* only a bad "~" escape in a pointer may fail */
		if (field[0] != '/' ||
			fuzz_sqlstate != ERRCODE_INVALID_PARAMETER_VALUE)
			fuzz_fail("pgapi_json_compile_path(\"%.100s\"): %s %s", field,
					  fuzz_sqlstate_text(fuzz_sqlstate), fuzz_errmsg);
		fuzz_caught();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	fuzz_context_reset(tuple_cxt);
}

static void
keep_string(FuzzWalk *w, const char *name, const char *s)
{
	if (w->nstrings < FUZZ_MAX_STRINGS)
	{
		w->names[w->nstrings] = name;
		w->strings[w->nstrings] = s;
		w->nstrings++;
	}
}

static void
walk(PgApiJsonValue root, PgApiJsonValue v, FuzzWalk *w, bool collect)
{
	switch (pgapi_json_type(v))
	{
		case PGAPI_JSON_OBJECT:
			{
				int			n = pgapi_json_object_length(v);
				const char *key;
				PgApiJsonValue e;

				for (int i = 0; i < n; i++)
				{
					e = pgapi_json_object_entry(v, i, &key);
					if (key == NULL)
						fuzz_fail("member %d of %d has no name", i, n);
					if (pgapi_json_get(v, key) != e)
						fuzz_fail("member \"%.100s\": entry and get disagree", key);
					/* out of order, then back: the cached position */
					if (i > 0)
					{
						const char *k2;
						PgApiJsonValue e2 = pgapi_json_object_entry(v, i - 1, &k2);

						if (k2 == NULL || pgapi_json_get(v, k2) != e2)
							fuzz_fail("member %d: entry after entry %d is wrong", i - 1, i);
						if (pgapi_json_object_entry(v, i, &k2) != e || k2 != key)
							fuzz_fail("member %d: entry differs the second time", i);
					}
					if (collect && pgapi_json_type(e) == PGAPI_JSON_STRING)
						keep_string(w, key, pgapi_json_string(e, &(size_t) {0}));
					if (w->nvalues++ < FUZZ_MAX_VALUES)
					{
						check_path(root, v, key, e);
						convert_all(e);
					}
					walk(root, e, w, collect);
				}
				if (pgapi_json_object_entry(v, n, &key) != NULL || key != NULL)
					fuzz_fail("entry %d of an object of %d exists", n, n);
			}
			break;
		case PGAPI_JSON_ARRAY:
			{
				int			n = pgapi_json_array_length(v);

				for (int i = 0; i < n; i++)
				{
					PgApiJsonValue e = pgapi_json_array_get(v, i);

					if (collect && pgapi_json_type(e) == PGAPI_JSON_STRING)
						keep_string(w, NULL, pgapi_json_string(e, &(size_t) {0}));
					if (w->nvalues++ < FUZZ_MAX_VALUES)
						convert_all(e);
					walk(root, e, w, collect);
				}
				if (pgapi_json_array_get(v, n) != NULL ||
					pgapi_json_array_get(v, -1) != NULL)
					fuzz_fail("element out of range of an array of %d", n);
			}
			break;
		case PGAPI_JSON_STRING:
			{
				size_t		len;
				const char *s = pgapi_json_string(v, &len);

				if (s == NULL || s[len] != '\0' || strlen(s) > len)
					fuzz_fail("string length %zu, strlen %zu", len,
							  s ? strlen(s) : 0);
			}
			break;
		default:
			if (pgapi_json_string(v, &(size_t) {0}) != NULL)
				fuzz_fail("pgapi_json_string of a non-string");
			break;
	}
}

/* ----------------------------------------------------------------
 *		The builder
 * ----------------------------------------------------------------
 */

static void
check_builder(FuzzWalk *w)
{
	MemoryContext old = MemoryContextSwitchTo(build_cxt);

	PG_TRY();
	{
		PgApiJsonBuilder *b = pgapi_jb_object();
		PgApiJsonBuilder *arr = pgapi_jb_array();
		PgApiJsonBuilder *child = pgapi_jb_object();
		PgApiJsonDoc *doc;
		PgApiJsonValue root;
		char	   *out;
		size_t		len;

		for (int i = 0; i < w->nstrings; i++)
		{
			const char *name = w->names[i] ? w->names[i] : "unnamed";

			pgapi_jb_add_string(b, name, w->strings[i]);
			pgapi_jb_add_string(arr, NULL, w->strings[i]);
			PG_TRY();
			{
				pgapi_jb_add_json(arr, NULL, w->strings[i]);
			}
			PG_CATCH();
			{
				if (fuzz_sqlstate != ERRCODE_INVALID_TEXT_REPRESENTATION)
					fuzz_fail("pgapi_jb_add_json: %s %s",
							  fuzz_sqlstate_text(fuzz_sqlstate), fuzz_errmsg);
				fuzz_caught();
			}
			PG_END_TRY();
			pgapi_jb_add_int64(arr, NULL, (int64) strlen(w->strings[i]) - 4);
		}
		pgapi_jb_add_bool(arr, NULL, w->nstrings % 2 == 0);
		pgapi_jb_add_null(arr, NULL);
		pgapi_jb_add_string(child, "s", w->nstrings ? w->strings[0] : NULL);
		pgapi_jb_add_int64(child, "min", PG_INT64_MIN + 1);
		pgapi_jb_add_builder(arr, NULL, child);
		pgapi_jb_add_builder(b, BUILDER_ARRAY_KEY, arr);
		out = pgapi_jb_finish(b, &len);
		if (strlen(out) != len)
			fuzz_fail("pgapi_jb_finish: length %zu, strlen %zu", len, strlen(out));

		PG_TRY();
		{
			doc = pgapi_json_parse(out, len);
		}
		PG_CATCH();
		{
			fuzz_fail("the builder's output does not parse (%s): %.300s",
					  fuzz_errmsg, out);
		}
		PG_END_TRY();
		root = pgapi_json_root(doc);

		/* in UTF-8 every string comes back: the last one under a name */
		if (fuzz_encoding == PG_UTF8)
		{
			for (int i = 0; i < w->nstrings; i++)
			{
				const char *name = w->names[i] ? w->names[i] : "unnamed";
				const char *want = NULL;

				if (strcmp(name, BUILDER_ARRAY_KEY) == 0)
					continue;
				const char *got;
				size_t		glen;

				for (int j = 0; j < w->nstrings; j++)
					if (strcmp(w->names[j] ? w->names[j] : "unnamed", name) == 0)
						want = w->strings[j];
				got = pgapi_json_string(pgapi_json_get(root, name), &glen);
				if (got == NULL || strcmp(got, want) != 0)
					fuzz_fail("builder: member \"%.100s\" is \"%.100s\", not \"%.100s\"",
							  name, got ? got : "(none)", want);
			}
		}
	}
	PG_CATCH();
	{
		/* LATIN1 or SQL_ASCII text that is not valid UTF-8 */
		if (fuzz_encoding == PG_UTF8)
			fuzz_fail("builder: %s %s", fuzz_sqlstate_text(fuzz_sqlstate),
					  fuzz_errmsg);
		fuzz_caught();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	fuzz_context_reset(build_cxt);
}

/* ----------------------------------------------------------------
 *		One input
 * ----------------------------------------------------------------
 */

static void
check_error_fields(const char *body, size_t size)
{
	MemoryContext old = MemoryContextSwitchTo(tuple_cxt);

	for (int e = 0; e < lengthof(encodings); e++)
	{
		fuzz_encoding = encodings[e];
		PG_TRY();
		{
			char	   *message;
			char	   *request_id;
			char	   *code;

			pgapi_json_error_fields(body, size, &message, &request_id, &code);
			check_detail_text("error message", message);
			check_detail_text("requestId", request_id);
			check_detail_text("error code", code);
		}
		PG_CATCH();
		{
			fuzz_fail("pgapi_json_error_fields raised %s: %s",
					  fuzz_sqlstate_text(fuzz_sqlstate), fuzz_errmsg);
		}
		PG_END_TRY();
		fuzz_context_reset(tuple_cxt);
	}
	MemoryContextSwitchTo(old);
	fuzz_encoding = PG_UTF8;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *body = malloc(size + 1);
	PgApiJsonDoc *volatile doc = NULL;

	memcpy(body, data, size);
	body[size] = '\0';
	fuzz_begin();

	check_error_fields(body, size);

	fuzz_encoding = PG_UTF8;
	MemoryContextSwitchTo(page_cxt);
	PG_TRY();
	{
		doc = pgapi_json_parse(body, size);
	}
	PG_CATCH();
	{
		if (fuzz_sqlstate != ERRCODE_CHARACTER_NOT_IN_REPERTOIRE &&
			fuzz_sqlstate != ERRCODE_FDW_UNABLE_TO_CREATE_REPLY &&
			fuzz_sqlstate != ERRCODE_PROGRAM_LIMIT_EXCEEDED)
			fuzz_fail("pgapi_json_parse raised %s: %s",
					  fuzz_sqlstate_text(fuzz_sqlstate), fuzz_errmsg);
		fuzz_caught();
	}
	PG_END_TRY();

	if (doc != NULL)
	{
		PgApiJsonValue root = pgapi_json_root(doc);

		for (int e = 0; e < lengthof(encodings); e++)
		{
			FuzzWalk	w;

			memset(&w, 0, sizeof(w));
			fuzz_encoding = encodings[e];
			if (w.nvalues++ < FUZZ_MAX_VALUES)
				convert_all(root);
			walk(root, root, &w, true);
			if (fuzz_encoding != PG_SQL_ASCII)
				check_builder(&w);
		}
	}

	/* the page ends: its reset frees the json-c tree */
	MemoryContextSwitchTo(scan_cxt);
	fuzz_context_reset(page_cxt);
	fuzz_encoding = PG_UTF8;
	free(body);
	return 0;
}

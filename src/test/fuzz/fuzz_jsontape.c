/*
 * fuzz_jsontape.c -- libFuzzer harness comparing the tape parser
 * (src/jsontape.c) with the json-c path of src/json.c on the same input.
 *
 * The tape path may only be taken for documents the json-c path accepts
 * (RELIABILITY B3, B4, B7: the fuzzer must never find a document the tape
 * accepts and json_parse_strict refuses), and must see the same values
 * there.  For every input that is valid UTF-8 (both paths check that
 * first, with the same function) the oracle is:
 *   - pgapi_tape_parse accepts  <=>  json_parse_strict accepts;
 *   - when both do, the trees are equal: same types (json-c's int/double
 *     split), integers of up to 18 digits equal, a double's text equal to
 *     json-c's source text, strings equal byte for byte after decoding
 *     (embedded NULs included), arrays equal element by element, and
 *     objects equal member by member under json-c's rules: keys end at an
 *     embedded NUL, a repeated key keeps its last value.  Member lookups go
 *     through pgapi_tape_member when no key is escaped.
 * A difference aborts (printing the input), as does any sanitizer report.
 *
 * json.c is compiled into this file (#include) for its static
 * json_parse_strict; the backend functions it references are stubbed:
 * allocation maps to malloc (freed after each input), anything else aborts,
 * since parsing must not reach it.
 *
 * Build and run: src/test/fuzz/run.sh (clang -fsanitize=fuzzer,address).
 */
#include "json.c"

#include <stdio.h>
#include <stdlib.h>

/* ----------------------------------------------------------------
 *		Backend stubs
 * ----------------------------------------------------------------
 */

MemoryContext CurrentMemoryContext = NULL;
ErrorContextCallback *error_context_stack = NULL;
sigjmp_buf *PG_exception_stack = NULL;

/* every palloc of one input, freed afterwards */
static void **allocs;
static size_t nallocs, capallocs;

static void *
track(void *p)
{
	if (p == NULL)
		abort();
	if (nallocs == capallocs)
	{
		capallocs = capallocs ? capallocs * 2 : 1024;
		allocs = realloc(allocs, capallocs * sizeof(void *));
		if (allocs == NULL)
			abort();
	}
	allocs[nallocs++] = p;
	return p;
}

static void
free_all(void)
{
	for (size_t i = 0; i < nallocs; i++)
		free(allocs[i]);
	nallocs = 0;
}

static size_t
find_alloc(void *p)
{
	for (size_t i = nallocs; i-- > 0;)
		if (allocs[i] == p)
			return i;
	abort();					/* not ours */
}

void *
palloc(Size size)
{
	return track(malloc(size ? size : 1));
}

void *
palloc0(Size size)
{
	return track(calloc(1, size ? size : 1));
}

void *
repalloc(void *p, Size size)
{
	size_t		i = find_alloc(p);

	allocs[i] = realloc(p, size ? size : 1);
	if (allocs[i] == NULL)
		abort();
	return allocs[i];
}

void
pfree(void *p)
{
	size_t		i = find_alloc(p);

	free(p);
	allocs[i] = allocs[--nallocs];
}

char *
pstrdup(const char *in)
{
	return strcpy(palloc(strlen(in) + 1), in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

void
check_stack_depth(void)
{
}

#define UNREACHABLE(decl) decl { abort(); }

UNREACHABLE(void AdjustTimestampForTypmod(Timestamp *time, int32 typmod))
UNREACHABLE(int GetDatabaseEncoding(void))
UNREACHABLE(Datum InputFunctionCall(FmgrInfo *flinfo, char *str, Oid typioparam, int32 typmod))
UNREACHABLE(void MemoryContextRegisterResetCallback(MemoryContext context, MemoryContextCallback *cb))
UNREACHABLE(Datum OidFunctionCall1Coll(Oid functionId, Oid collation, Datum arg1))
UNREACHABLE(void appendBinaryStringInfo(StringInfo str, const char *data, int datalen))
UNREACHABLE(void appendStringInfoChar(StringInfo str, char ch))
UNREACHABLE(ArrayType *construct_empty_array(Oid elmtype))
UNREACHABLE(ArrayType *construct_md_array(Datum *elems, bool *nulls, int ndims, int *dims, int *lbs, Oid elmtype, int elmlen, bool elmbyval, char elmalign))
UNREACHABLE(int errcode(int sqlerrcode))
UNREACHABLE(int errdetail(const char *fmt,...))
UNREACHABLE(int errdetail_internal(const char *fmt,...))
UNREACHABLE(void errfinish(const char *filename, int lineno, const char *funcname))
UNREACHABLE(int errmsg(const char *fmt,...))
UNREACHABLE(int errmsg_internal(const char *fmt,...))
UNREACHABLE(bool errstart_cold(int elevel, const char *domain))
UNREACHABLE(bool errstart(int elevel, const char *domain))
UNREACHABLE(void fmgr_info(Oid functionId, FmgrInfo *finfo))
UNREACHABLE(void getTypeInputInfo(Oid type, Oid *typInput, Oid *typIOParam))
UNREACHABLE(Oid get_array_type(Oid typid))
UNREACHABLE(Oid get_element_type(Oid typid))
UNREACHABLE(void get_typlenbyvalalign(Oid typid, int16 *typlen, bool *typbyval, char *typalign))
UNREACHABLE(void initStringInfo(StringInfo str))
UNREACHABLE(char *pg_any_to_server(const char *s, int len, int encoding))
UNREACHABLE(int pg_mbcliplen(const char *mbstr, int len, int limit))
UNREACHABLE(void pg_re_throw(void))
UNREACHABLE(char *pg_server_to_any(const char *s, int len, int encoding))
UNREACHABLE(bool pg_verify_mbstr(int encoding, const char *mbstr, int len, bool noError))
UNREACHABLE(char *psprintf(const char *fmt,...))

/* ----------------------------------------------------------------
 *		The oracle
 * ----------------------------------------------------------------
 */

static const uint8_t *cur_data;
static size_t cur_size;

static void
differ(const char *what)
{
	fprintf(stderr, "tape and json-c differ: %s\ninput (%zu bytes): %.*s\n",
			what, cur_size, (int) cur_size, (const char *) cur_data);
	abort();
}

/* a member name as json-c keeps it: up to an embedded NUL */
static char *
key_cstr(const PgApiTape *t, uint32 k)
{
	size_t		len;

	return pgapi_tape_string(t, k, &len);
}

static void compare(const PgApiTape *t, uint32 idx, struct json_object *o);

static void
compare_object(const PgApiTape *t, uint32 idx, struct json_object *o)
{
	const PgApiTapeNode *n = &t->nodes[idx];
	uint32		k = idx + 1;
	int			distinct = 0;

	for (uint32 m = 0; m < n->count; m++)
	{
		char	   *key = key_cstr(t, k);
		uint32		last = k + 1;
		uint32		k2 = t->nodes[k + 1].next;
		bool		first = true;
		uint32		kp = idx + 1;
		struct json_object *v;

		/* is this the first occurrence of the name, and which is the last? */
		for (uint32 m2 = 0; m2 < m; m2++)
		{
			char	   *key2 = key_cstr(t, kp);

			if (strcmp(key, key2) == 0)
				first = false;
			pfree(key2);
			kp = t->nodes[kp + 1].next;
		}
		for (uint32 m2 = m + 1; m2 < n->count; m2++)
		{
			char	   *key2 = key_cstr(t, k2);

			if (strcmp(key, key2) == 0)
				last = k2 + 1;
			pfree(key2);
			k2 = t->nodes[k2 + 1].next;
		}
		if (first)
		{
			distinct++;
			if (!json_object_object_get_ex(o, key, &v))
				differ("a member json-c does not have");
			compare(t, last, v);
			if (!t->escaped_keys &&
				pgapi_tape_member(t, idx, key, strlen(key)) != last)
				differ("pgapi_tape_member does not find the last member");
		}
		pfree(key);
		k = t->nodes[k + 1].next;
	}
	if (distinct != json_object_object_length(o))
		differ("member counts");
	if (n->next != k)
		differ("an object's next node");
}

static void
compare(const PgApiTape *t, uint32 idx, struct json_object *o)
{
	const PgApiTapeNode *n = &t->nodes[idx];
	const char *tok = t->data + n->start;
	enum json_type jt = json_object_get_type(o);

	switch (n->type)
	{
		case PGAPI_TAPE_NULL:
			if (o != NULL)
				differ("null");
			break;
		case PGAPI_TAPE_TRUE:
		case PGAPI_TAPE_FALSE:
			if (jt != json_type_boolean ||
				json_object_get_boolean(o) != (n->type == PGAPI_TAPE_TRUE))
				differ("boolean");
			break;
		case PGAPI_TAPE_INT:
			if (jt != json_type_int)
				differ("integer type");
			if (n->len - (tok[0] == '-') <= 18)
			{
				char		digits[32];
				int64		i;

				memcpy(digits, tok, n->len);
				digits[n->len] = '\0';
				i = strtoll(digits, NULL, 10);

				if (i != json_object_get_int64(o))
					differ("integer value");
			}
			break;
		case PGAPI_TAPE_DOUBLE:
			{
				const char *src = json_object_get_userdata(o);

				if (jt != json_type_double)
					differ("double type");
				if (src == NULL || strlen(src) != n->len ||
					memcmp(src, tok, n->len) != 0)
					differ("a double's source text");
			}
			break;
		case PGAPI_TAPE_STRING:
			{
				size_t		len;
				char	   *s;

				if (jt != json_type_string)
					differ("string type");
				s = pgapi_tape_string(t, idx, &len);
				if (len != (size_t) json_object_get_string_len(o) ||
					memcmp(s, json_object_get_string(o), len) != 0)
					differ("string contents");
				pfree(s);
			}
			break;
		case PGAPI_TAPE_ARRAY:
			{
				uint32		e = idx + 1;

				if (jt != json_type_array)
					differ("array type");
				if (n->count != json_object_array_length(o))
					differ("array length");
				for (uint32 i = 0; i < n->count; i++)
				{
					if (pgapi_tape_element(t, idx, i) != e)
						differ("pgapi_tape_element");
					compare(t, e, json_object_array_get_idx(o, i));
					e = t->nodes[e].next;
				}
				if (n->next != e)
					differ("an array's next node");
			}
			break;
		case PGAPI_TAPE_OBJECT:
			if (jt != json_type_object)
				differ("object type");
			compare_object(t, idx, o);
			break;
		default:
			differ("node type");
	}
	if (n->start + n->len > t->len)
		differ("a node beyond the document");
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PgApiTape  *tape;
	struct json_object *root = NULL;
	size_t		erroff;
	const char *what;
	bool		ok;
	char	   *body;

	/* both paths refuse invalid UTF-8 first, with the same check */
	if (pg_encoding_verifymbstr(PG_UTF8, (const char *) data, (int) size) != (int) size)
		return 0;
	cur_data = data;
	cur_size = size;

	/* a response body is NUL-terminated (PgApiRequest.data) */
	body = palloc(size + 1);
	memcpy(body, data, size);
	body[size] = '\0';

	tape = pgapi_tape_parse(body, size, PGAPI_JSON_MAX_DEPTH);
	ok = json_parse_strict(body, size, &root, &erroff, &what);
	if (tape != NULL && !ok)
		differ(what);			/* a hole: the tape took what json-c refuses */
	if (tape == NULL && ok)
		differ("the tape refuses a document json-c accepts");
	if (tape)
		compare(tape, 0, root);
	if (root)
		json_object_put(root);
	entry_cache_reset();
	free_all();
	return 0;
}

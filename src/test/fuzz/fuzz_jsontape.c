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
 * It runs on the stand-in backend shared by the harnesses (pgstub.c,
 * pgtypes.c), linked with json.c and jsontape.c: the json-c side is
 * pgapi_json_parse (json_parse_strict after the same UTF-8 and size
 * checks), whose ERROR (caught) is its refusal; each input's allocations
 * live in a context reset after it, which frees the json-c tree too.
 *
 * Build and run: src/test/fuzz/run.sh (clang -fsanitize=fuzzer,address).
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "mb/pg_wchar.h"

#include "pgapi_fdw.h"
#include "pgstub.h"

static MemoryContext input_cxt;

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
int			LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	input_cxt = fuzz_context_create("input");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PgApiTape  *volatile tape = NULL;
	PgApiJsonDoc *volatile doc = NULL;
	char	   *body;

	/* both paths refuse invalid UTF-8 first, with the same check */
	if (pg_encoding_verifymbstr(PG_UTF8, (const char *) data, (int) size) != (int) size)
		return 0;
	cur_data = data;
	cur_size = size;

	fuzz_begin();
	fuzz_encoding = PG_UTF8;
	MemoryContextSwitchTo(input_cxt);

	/* a response body is NUL-terminated (PgApiRequest.data) */
	body = palloc(size + 1);
	memcpy(body, data, size);
	body[size] = '\0';

	PG_TRY();
	{
		tape = pgapi_tape_parse(body, size, PGAPI_JSON_MAX_DEPTH);
	}
	PG_CATCH();
	{
		fuzz_caught();
		fuzz_fail("pgapi_tape_parse raised an ERROR: %s", fuzz_errmsg);
	}
	PG_END_TRY();

	PG_TRY();
	{
		doc = pgapi_json_parse(body, size);
	}
	PG_CATCH();
	{
		fuzz_caught();
		doc = NULL;
	}
	PG_END_TRY();

	if (tape != NULL && doc == NULL)
		differ(fuzz_errmsg);	/* a hole: the tape took what json-c refuses */
	if (tape == NULL && doc != NULL)
		differ("the tape refuses a document json-c accepts");
	if (tape)
		compare(tape, 0, (struct json_object *) pgapi_json_root(doc));
	fuzz_context_reset(input_cxt);
	return 0;
}

/*-------------------------------------------------------------------------
 *
 * json.c
 *		  JSON parsing, value conversion and request-body building (json-c)
 *
 * This is the only file that includes json-c: its "json_object" typedef
 * clashes with the SQL function of that name declared by
 * utils/fmgrprotos.h, so this file must not include utils/builtins.h or
 * utils/fmgrprotos.h.  PostgreSQL functions it needs are called through
 * fmgr (InputFunctionCall, OidFunctionCall1).
 *
 * Parsing.  A response body is checked in three passes: the whole body is
 * verified as UTF-8 by PostgreSQL (json-c's own check accepts overlong
 * forms); a lexical pass (json_lex_check) enforces RFC 8259 token syntax,
 * which json-c 0.16 does not in STRICT mode (it accepts single quotes,
 * NaN, Infinity, "1.", "-01", raw control characters in strings, and turns
 * lone surrogates into U+FFFD); then json-c builds the tree with a depth
 * limit, and we check that it consumed the whole body.  json-c also turns
 * escaped surrogate pairs for U+xD800..U+xDFFF into U+FFFD; a document
 * holding one is parsed from a copy with those characters unescaped
 * (unmangle).  Pages of rows are read from a tape instead (jsontape.c,
 * pgapi_json_tape_to_datum), which must agree with all of this.
 *
 * Ownership.  Trees belong to a PgApiJsonDoc or PgApiJsonBuilder that is
 * palloc'd in CurrentMemoryContext; a MemoryContextCallback frees the
 * json-c tree (malloc'd) when that context is reset or deleted, so an
 * ERROR never leaks it and a per-page context reset frees each page.
 * PgApiJsonValue is a json_object pointer cast to an opaque type; it is
 * valid while its document lives.  JSON null and a missing member are both
 * NULL, as in json-c.
 *
 * Numbers.  json-c 0.16 clamps integers beyond int64 (negative) or uint64
 * (non-negative) to the limit without an error, so the limits themselves,
 * INT64_MIN and UINT64_MAX, are refused as possibly clamped (22003); every
 * other integer is exact.  Doubles keep their source text (the parser
 * stores it as the object's userdata), and that text, never a coerced
 * value, goes to the column type's input function.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include <json-c/json.h>

#include "pgapi_fdw.h"

/* Longest API error text returned by pgapi_json_error_fields(). */
#define PGAPI_JSON_ERROR_MAX	1024

/* Flags of every serialization. */
#define PGAPI_JSON_TO_STRING	(JSON_C_TO_STRING_PLAIN | \
								 JSON_C_TO_STRING_NOSLASHESCAPE)

#define JV(v)		((struct json_object *) (v))
#define PV(o)		((PgApiJsonValue) (o))

struct PgApiJsonDoc
{
	struct json_object *root;
	MemoryContextCallback cb;
};

/* One step of a compiled path. */
typedef struct PgApiJsonPathSeg
{
	char	   *key;			/* member name, NUL-terminated */
	size_t		keylen;
	unsigned long hash;			/* lh hash of key, valid for path->hash_fn */
	int			index;			/* array index, or -1 if key is not one */
} PgApiJsonPathSeg;

struct PgApiJsonPath
{
	lh_hash_fn *hash_fn;		/* json-c's hash of object keys */
	int			nsegs;
	PgApiJsonPathSeg segs[FLEXIBLE_ARRAY_MEMBER];
};

struct PgApiJsonBuilder
{
	struct json_object *root;	/* NULL once moved or finished */
	bool		is_array;
	MemoryContextCallback cb;
};

/*
 * Position of the last pgapi_json_object_entry() call, so that iterating
 * over all members is O(n) overall.  json-c keeps members in a linked list
 * in document order.  Reset whenever we free a tree, so it never points
 * into freed memory.
 */
static const struct lh_table *entry_cache_table = NULL;
static struct lh_entry *entry_cache_entry = NULL;
static int	entry_cache_index = -1;

static void
entry_cache_reset(void)
{
	entry_cache_table = NULL;
	entry_cache_entry = NULL;
	entry_cache_index = -1;
}

/* Free a json-c tree; the only place (with error_fields) that does. */
static void
json_tree_free(struct json_object *o)
{
	entry_cache_reset();
	if (o)
		json_object_put(o);
}

static void
doc_free_callback(void *arg)
{
	PgApiJsonDoc *doc = (PgApiJsonDoc *) arg;

	json_tree_free(doc->root);
	doc->root = NULL;
}

static void
builder_free_callback(void *arg)
{
	PgApiJsonBuilder *b = (PgApiJsonBuilder *) arg;

	json_tree_free(b->root);
	b->root = NULL;
}

/* ----------------------------------------------------------------
 *		Lexical check
 * ----------------------------------------------------------------
 */

static inline bool
is_json_delim(const unsigned char *s, size_t len, size_t i)
{
	if (i >= len)
		return true;
	switch (s[i])
	{
		case ' ':
		case '\t':
		case '\n':
		case '\r':
		case ',':
		case ':':
		case ']':
		case '}':
			return true;
		default:
			return false;
	}
}

/*
 * json-c 0.16 decodes an escaped surrogate pair whose code point has its
 * low 16 bits in D800..DFFF (U+1D800..U+1DFFF, U+2D800..U+2DFFF, ...,
 * U+10D800..U+10DFFF: 32768 characters, CJK Extension F ideographs among
 * them) to U+FFFD, silently: it tests the decoded code point for being a
 * surrogate with a 16-bit mask.  Such a pair is "affected".
 */
#define JSON_C_MANGLES(cp)	(((cp) & 0xF800) == 0xD800)

static inline unsigned int
surrogate_pair_value(int hi, int lo)
{
	return 0x10000 + (((unsigned int) hi - 0xD800) << 10) +
		((unsigned int) lo - 0xDC00);
}

/*
 * json_lex_check
 *		Check the RFC 8259 token syntax of a UTF-8 buffer: strings (escapes,
 *		no raw control characters, no lone surrogates), numbers, true, false,
 *		null and punctuation, with whitespace between, and the nesting depth.
 *		Structure is left to json-c.  Returns false and sets *erroff and
 *		*what (a constant) on the first fault.  *mangled counts the escaped
 *		surrogate pairs json-c would decode wrongly (JSON_C_MANGLES).  Never
 *		ereports.
 */

/*
 * Bytes that may stand for themselves inside a JSON string: not '"', not
 * '\\', not a control character.  Filled on first use.
 */
static bool json_str_plain[256];
static bool json_str_plain_ready = false;

static void
json_str_plain_init(void)
{
	for (int c = 0; c < 256; c++)
		json_str_plain[c] = (c >= 0x20 && c != '"' && c != '\\');
	json_str_plain_ready = true;
}

static bool
json_lex_check(const char *data, size_t len, size_t *erroff, const char **what,
			   size_t *mangled)
{
	const unsigned char *s = (const unsigned char *) data;
	size_t		i = 0;
	int			depth = 0;
	bool		seen = false;

	*mangled = 0;

	if (unlikely(!json_str_plain_ready))
		json_str_plain_init();

	while (i < len)
	{
		unsigned char c = s[i];
		size_t		start = i;

		switch (c)
		{
			case ' ':
			case '\t':
			case '\n':
			case '\r':
				i++;
				continue;
			case '{':
			case '[':
				/* json-c's own limit misses an empty innermost container */
				if (++depth > PGAPI_JSON_MAX_DEPTH)
				{
					*erroff = i;
					*what = "nesting too deep";
					return false;
				}
				seen = true;
				i++;
				continue;
			case '}':
			case ']':
				depth--;
				seen = true;
				i++;
				continue;
			case ',':
			case ':':
				seen = true;
				i++;
				continue;
			case '"':
				seen = true;
				i++;
				for (;;)
				{
					if (i >= len)
					{
						*erroff = start;
						*what = "unterminated string";
						return false;
					}
					/* the common case: a run of plain bytes */
					while (i < len && json_str_plain[s[i]])
						i++;
					if (i >= len)
						continue;	/* reported as unterminated above */
					c = s[i];
					if (c == '"')
					{
						i++;
						break;
					}
					if (c < 0x20)
					{
						*erroff = i;
						*what = "unescaped control character in a string";
						return false;
					}
					if (c != '\\')
					{
						i++;
						continue;
					}
					if (i + 1 >= len)
					{
						*erroff = start;
						*what = "unterminated string";
						return false;
					}
					{
						size_t		at = i;
						int			pair;

						switch (pgapi_json_scan_escape(s, len, &i, &pair))
						{
							case PGAPI_ESCAPE_OK:
								if (pair >= 0 && JSON_C_MANGLES(pair))
									(*mangled)++;
								break;
							case PGAPI_ESCAPE_INVALID:
								*erroff = at;
								*what = "invalid escape sequence";
								return false;
							case PGAPI_ESCAPE_BAD_U:
								*erroff = at;
								*what = "invalid \\u escape";
								return false;
							case PGAPI_ESCAPE_LONE_HIGH:
								*erroff = at;
								*what = "Unicode high surrogate not followed by a low surrogate";
								return false;
							case PGAPI_ESCAPE_LONE_LOW:
								*erroff = at;
								*what = "Unicode low surrogate not preceded by a high surrogate";
								return false;
						}
					}
				}
				continue;
			case 't':
			case 'f':
			case 'n':
				{
					const char *lit = (c == 't') ? "true" :
					(c == 'f') ? "false" : "null";
					size_t		l = strlen(lit);

					seen = true;
					if (len - i < l || memcmp(s + i, lit, l) != 0 ||
						!is_json_delim(s, len, i + l))
					{
						*erroff = i;
						*what = (len - i < l && memcmp(s + i, lit, len - i) == 0) ?
							"unexpected end of data" : "invalid literal";
						return false;
					}
					i += l;
				}
				continue;
			case '-':
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
			case '8':
			case '9':
				{
					bool		is_int;

					seen = true;
					if (!pgapi_json_scan_number(s, len, &i, &is_int))
						goto bad_number;
				}
				if (!is_json_delim(s, len, i))
					goto bad_number;
				continue;
		bad_number:
				*erroff = start;
				*what = "invalid number";
				return false;
			default:
				*erroff = i;
				if (c == '\'')
					*what = "single quotes are not JSON";
				else if (c == '/')
					*what = "comments are not JSON";
				else if (c == 'N' || c == 'I')
					*what = "NaN and Infinity are not JSON";
				else if (i == 0 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
					*what = "byte order mark";
				else
					*what = "unexpected character";
				return false;
		}
	}
	if (!seen)
	{
		*erroff = 0;
		*what = "empty document";
		return false;
	}
	return true;
}

/*
 * unmangle
 *		A malloc'd copy of a lexically checked document (len bytes) in which
 *		each escaped surrogate pair that json-c would decode to U+FFFD
 *		(JSON_C_MANGLES; there are n) is replaced by the character's four
 *		UTF-8 bytes, which mean the same inside a JSON string.  *newlen is
 *		the copy's length; fixes[] (n entries, malloc'd) holds the copy's
 *		offsets of the replacements, each 8 bytes shorter than its escape,
 *		for mapping offsets back.  NULL if out of memory.  Never ereports.
 */
static char *
unmangle(const char *data, size_t len, size_t n, size_t *newlen,
		 size_t **fixes)
{
	const unsigned char *s = (const unsigned char *) data;
	unsigned char *out = malloc(len + 1);
	size_t		o = 0;
	size_t		nfix = 0;

	*fixes = malloc(sizeof(size_t) * n);
	if (out == NULL || *fixes == NULL)
	{
		free(out);
		free(*fixes);
		return NULL;
	}
	/* outside strings there is no backslash (the lexer checked) */
	for (size_t i = 0; i < len;)
	{
		int			hi;
		int			lo;
		unsigned int cp;

		if (s[i] != '\\')
		{
			out[o++] = s[i++];
			continue;
		}
		hi = pgapi_json_u_escape(s, len, i);
		lo = (hi >= 0xD800 && hi <= 0xDBFF) ? pgapi_json_u_escape(s, len, i + 6) : -1;
		if (lo < 0xDC00 || lo > 0xDFFF ||
			!JSON_C_MANGLES(cp = surrogate_pair_value(hi, lo)))
		{
			/* any other escape: copied, its second byte too */
			out[o++] = s[i++];
			out[o++] = s[i++];
			continue;
		}
		(*fixes)[nfix++] = o;
		out[o++] = (unsigned char) (0xF0 | (cp >> 18));
		out[o++] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
		out[o++] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		out[o++] = (unsigned char) (0x80 | (cp & 0x3F));
		i += 12;
	}
	Assert(nfix == n);
	out[o] = '\0';
	*newlen = o;
	return (char *) out;
}

/*
 * json_parse_strict
 *		Parse a UTF-8 buffer already checked by pg_verify_mbstr: lexical
 *		check, then json-c STRICT with the depth limit, requiring the whole
 *		buffer to be consumed.  Returns true and the tree in *result (caller
 *		owns it; NULL for a JSON null document), or false with *erroff and
 *		*what set.  Never ereports; frees everything it
 *		allocated on failure.
 *
 *		A document holding escaped surrogate pairs that json-c decodes
 *		wrongly (see JSON_C_MANGLES) is parsed from a copy without them
 *		(unmangle), so that no character turns into U+FFFD.
 */
static bool
json_parse_strict(const char *data, size_t len, struct json_object **result,
				  size_t *erroff, const char **what)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t		end;
	size_t		mangled;
	char	   *copy = NULL;
	size_t	   *fixes = NULL;

	if (len > INT_MAX - 1)
	{
		*erroff = 0;
		*what = "document too large";
		return false;
	}
	*result = NULL;
	if (!json_lex_check(data, len, erroff, what, &mangled))
		return false;
	if (mangled > 0)
	{
		copy = unmangle(data, len, mangled, &len, &fixes);
		if (copy == NULL)
		{
			*erroff = 0;
			*what = "out of memory";
			return false;
		}
		data = copy;
	}

	/* json-c counts the outermost container too: allow exactly 16 levels */
	tok = json_tokener_new_ex(PGAPI_JSON_MAX_DEPTH + 1);
	if (tok == NULL)
	{
		free(copy);
		free(fixes);
		*erroff = 0;
		*what = "out of memory";
		return false;
	}
	/* STRICT only; never JSON_TOKENER_ALLOW_TRAILING_CHARS */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, data, (int) len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);

	/*
	 * A top-level scalar ("12", "true") ends in json_tokener_continue since
	 * more digits could follow; a NUL byte ends it.  A truncated container
	 * stays unfinished and fails here.
	 */
	if (jerr == json_tokener_continue && end == len)
	{
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr != json_tokener_success)
			jerr = json_tokener_continue;
		end = len;
	}
	json_tokener_free(tok);
	free(copy);

	/* end is an offset in the copy: add 8 bytes per replacement before it */
	if (mangled > 0)
	{
		size_t		copy_end = end;

		for (size_t k = 0; k < mangled; k++)
			if (fixes[k] < copy_end)
				end += 8;
		free(fixes);
	}

	/* obj is NULL for a JSON null document too: judge by jerr only */
	if (jerr != json_tokener_success || end < len + 8 * mangled)
	{
		json_tree_free(obj);
		*erroff = end;
		if (jerr == json_tokener_success)
			*what = "trailing data after the JSON document";
		else if (jerr == json_tokener_continue)
			*what = "unexpected end of data";
		else
			*what = json_tokener_error_desc(jerr);
		return false;
	}
	*result = obj;
	return true;
}

/*
 * pgapi_json_parse
 *		Parse a response body.  Returns a PgApiJsonDoc palloc'd in
 *		CurrentMemoryContext; its tree is freed when that context is reset or
 *		deleted.  ereports 22021 for invalid UTF-8 and HV00M for anything that
 *		is not exactly one JSON document (RELIABILITY B3, B4, B7).
 */
/*
 * The checks every response body gets before parsing: a size that json-c
 * can take (54000) and valid UTF-8 (22021, RELIABILITY B7).
 */
static void
check_body(const char *data, size_t len)
{
	if (len > (size_t) INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("API response of %zu bytes is too large to parse",
						len)));
	if (!pg_verify_mbstr(PG_UTF8, data, (int) len, true))
	{
		int			valid = pg_encoding_verifymbstr(PG_UTF8, data, (int) len);

		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("the API response is not valid UTF-8"),
				 errdetail("Invalid byte sequence 0x%02x at byte offset %d.",
						   (unsigned char) data[valid], valid)));
	}
}

PgApiJsonDoc *
pgapi_json_parse(const char *data, size_t len)
{
	PgApiJsonDoc *doc;
	size_t		erroff;
	const char *what;
	struct json_object *root;

	check_body(data, len);

	/* register the owner first, so that nothing can leak the tree */
	doc = palloc0(sizeof(PgApiJsonDoc));
	doc->cb.func = doc_free_callback;
	doc->cb.arg = doc;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &doc->cb);

	if (!json_parse_strict(data, len, &root, &erroff, &what))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("could not parse the API response as JSON"),
				 errdetail_internal("%s at byte offset %zu of %zu",
									what, erroff, len)));
	doc->root = root;
	return doc;
}

/*
 * pgapi_json_parse_tape
 *		The tape (jsontape.c) of a response body, palloc'd in
 *		CurrentMemoryContext, after the checks of pgapi_json_parse (it
 *		ereports 22021 for invalid UTF-8 and 54000 for a body too large);
 *		NULL when the tape parser refuses the document, which the caller
 *		then gives to pgapi_json_parse for the error or the tree.
 */
PgApiTape *
pgapi_json_parse_tape(const char *data, size_t len)
{
	check_body(data, len);
	return pgapi_tape_parse(data, len, PGAPI_JSON_MAX_DEPTH);
}

PgApiJsonValue
pgapi_json_root(PgApiJsonDoc *doc)
{
	return PV(doc->root);
}

PgApiJsonType
pgapi_json_type(PgApiJsonValue v)
{
	switch (json_object_get_type(JV(v)))
	{
		case json_type_boolean:
			return PGAPI_JSON_BOOL;
		case json_type_int:
			return PGAPI_JSON_INT;
		case json_type_double:
			return PGAPI_JSON_DOUBLE;
		case json_type_string:
			return PGAPI_JSON_STRING;
		case json_type_object:
			return PGAPI_JSON_OBJECT;
		case json_type_array:
			return PGAPI_JSON_ARRAY;
		case json_type_null:
		default:
			return PGAPI_JSON_NULL;
	}
}

/*
 * pgapi_json_get
 *		Member "key" of an object; NULL if obj is not an object, the member
 *		is missing or null.  Hashes key on each call: hot paths use a
 *		compiled path.
 */
PgApiJsonValue
pgapi_json_get(PgApiJsonValue obj, const char *key)
{
	struct json_object *val;

	if (!json_object_is_type(JV(obj), json_type_object))
		return NULL;
	if (!json_object_object_get_ex(JV(obj), key, &val))
		return NULL;
	return PV(val);
}

/*
 * pgapi_json_compile_path
 *		Compile a column's field: a member name taken literally, or an RFC
 *		6901 JSON pointer ("/a/b/0", "~0" is "~", "~1" is "/").  palloc'd in
 *		CurrentMemoryContext.  Member hashes are computed here so that a
 *		lookup is one hash probe.  ereports 22023 for a bad "~" escape.
 */
PgApiJsonPath *
pgapi_json_compile_path(const char *field)
{
	PgApiJsonPath *path;
	struct json_object *probe;
	int			nsegs = 1;
	bool		pointer = (field[0] == '/');

	if (pointer)
	{
		nsegs = 0;
		for (const char *p = field; *p; p++)
			if (*p == '/')
				nsegs++;
	}
	path = palloc0(offsetof(PgApiJsonPath, segs) +
				   nsegs * sizeof(PgApiJsonPathSeg));
	path->nsegs = nsegs;

	if (!pointer)
		path->segs[0].key = pstrdup(field);
	else
	{
		const char *p = field + 1;

		for (int n = 0; n < nsegs; n++)
		{
			const char *e = strchr(p, '/');
			size_t		l = e ? (size_t) (e - p) : strlen(p);
			char	   *k = palloc(l + 1);
			size_t		o = 0;

			for (size_t j = 0; j < l; j++)
			{
				if (p[j] != '~')
					k[o++] = p[j];
				else if (j + 1 < l && (p[j + 1] == '0' || p[j + 1] == '1'))
					k[o++] = (p[++j] == '0') ? '~' : '/';
				else
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid JSON pointer \"%s\"", field),
							 errdetail("\"~\" must be followed by \"0\" or \"1\".")));
			}
			k[o] = '\0';
			path->segs[n].key = k;
			p = e ? e + 1 : p + l;
		}
	}

	/* array indexes: "0" or [1-9][0-9]*, only in pointers */
	for (int n = 0; n < nsegs; n++)
	{
		const char *k = path->segs[n].key;

		path->segs[n].keylen = strlen(k);
		path->segs[n].index = -1;
		if (pointer && k[0] >= '0' && k[0] <= '9' &&
			(k[0] != '0' || k[1] == '\0') && strlen(k) <= 9 &&
			strspn(k, "0123456789") == strlen(k))
			path->segs[n].index = atoi(k);
	}

	/*
	 * json-c hashes keys with one process-wide function (seeded once), the
	 * same for every object's table; take it from a throwaway object.
	 */
	probe = json_object_new_object();
	if (probe == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	path->hash_fn = json_object_get_object(probe)->hash_fn;
	for (int n = 0; n < nsegs; n++)
		path->segs[n].hash = path->hash_fn(path->segs[n].key);
	json_object_put(probe);

	return path;
}

/*
 * pgapi_json_get_path
 *		Follow a compiled path from v; NULL if any step is missing, null or
 *		of the wrong type.  The per-row hot path: no allocation.
 */
PgApiJsonValue
pgapi_json_get_path(PgApiJsonValue v, const PgApiJsonPath *path)
{
	struct json_object *o = JV(v);

	for (int n = 0; n < path->nsegs && o != NULL; n++)
	{
		const PgApiJsonPathSeg *seg = &path->segs[n];

		switch (json_object_get_type(o))
		{
			case json_type_object:
				{
					struct lh_table *t = json_object_get_object(o);
					struct lh_entry *e;

					if (likely(t->hash_fn == path->hash_fn))
						e = lh_table_lookup_entry_w_hash(t, seg->key, seg->hash);
					else
						e = lh_table_lookup_entry(t, seg->key);
					o = e ? (struct json_object *) lh_entry_v(e) : NULL;
				}
				break;
			case json_type_array:
				if (seg->index < 0 ||
					(size_t) seg->index >= json_object_array_length(o))
					return NULL;
				o = json_object_array_get_idx(o, seg->index);
				break;
			default:
				return NULL;
		}
	}
	return PV(o);
}

/*
 * pgapi_json_path_first
 *		The first member name of a compiled path (for matching it against
 *		the keys of a row on a tape), its length in *len, and the number of
 *		steps in *nsegs.
 */
const char *
pgapi_json_path_first(const PgApiJsonPath *path, size_t *len, int *nsegs)
{
	*len = path->segs[0].keylen;
	*nsegs = path->nsegs;
	return path->segs[0].key;
}

/*
 * pgapi_json_tape_get_path
 *		pgapi_json_get_path on a tape: follow steps from..nsegs-1 of path
 *		from node; 0 if any step is missing, null or of the wrong type.
 *		Member names are compared with the raw key bytes, so the tape must
 *		have no escaped_keys.  Duplicate keys: the last one, as in json-c.
 */
uint32
pgapi_json_tape_get_path(const PgApiTape *t, uint32 node,
						 const PgApiJsonPath *path, int from)
{
	for (int n = from; n < path->nsegs && node != 0; n++)
	{
		const PgApiJsonPathSeg *seg = &path->segs[n];

		switch (t->nodes[node].type)
		{
			case PGAPI_TAPE_OBJECT:
				node = pgapi_tape_member(t, node, seg->key, seg->keylen);
				break;
			case PGAPI_TAPE_ARRAY:
				if (seg->index < 0)
					return 0;
				node = pgapi_tape_element(t, node, seg->index);
				break;
			default:
				return 0;
		}
	}
	return node;
}

int
pgapi_json_array_length(PgApiJsonValue arr)
{
	if (!json_object_is_type(JV(arr), json_type_array))
		return 0;
	return (int) json_object_array_length(JV(arr));
}

PgApiJsonValue
pgapi_json_array_get(PgApiJsonValue arr, int i)
{
	if (!json_object_is_type(JV(arr), json_type_array) || i < 0 ||
		(size_t) i >= json_object_array_length(JV(arr)))
		return NULL;
	return PV(json_object_array_get_idx(JV(arr), i));
}

int
pgapi_json_object_length(PgApiJsonValue obj)
{
	if (!json_object_is_type(JV(obj), json_type_object))
		return 0;
	return json_object_object_length(JV(obj));
}

/*
 * pgapi_json_object_entry
 *		The i-th member of an object in document order, its name in *key
 *		(pointer into the tree); NULL (and *key NULL) when out of range.
 *		Calls with i, i+1, ... on the same object cost O(1) each (a cached
 *		position); any other call walks from the nearest known entry.
 */
PgApiJsonValue
pgapi_json_object_entry(PgApiJsonValue obj, int i, const char **key)
{
	struct lh_table *t;
	struct lh_entry *e;
	int			k;

	*key = NULL;
	if (!json_object_is_type(JV(obj), json_type_object) || i < 0)
		return NULL;
	t = json_object_get_object(JV(obj));
	if (t == entry_cache_table && entry_cache_index >= 0 &&
		entry_cache_index <= i)
	{
		e = entry_cache_entry;
		k = entry_cache_index;
	}
	else
	{
		e = lh_table_head(t);
		k = 0;
	}
	while (e != NULL && k < i)
	{
		e = lh_entry_next(e);
		k++;
	}
	if (e == NULL)
		return NULL;
	entry_cache_table = t;
	entry_cache_entry = e;
	entry_cache_index = i;
	*key = (const char *) lh_entry_k(e);
	return PV(lh_entry_v(e));
}

/*
 * pgapi_json_string
 *		A string's bytes (UTF-8, pointer into the tree, NUL-terminated) and
 *		length; NULL if v is not a string.  The length may exceed strlen()
 *		when the string holds "\u0000".
 */
const char *
pgapi_json_string(PgApiJsonValue v, size_t *len)
{
	if (!json_object_is_type(JV(v), json_type_string))
		return NULL;
	*len = (size_t) json_object_get_string_len(JV(v));
	return json_object_get_string(JV(v));
}

/* ----------------------------------------------------------------
 *		Value text
 * ----------------------------------------------------------------
 */

/*
 * Refuse integers that json-c may have clamped: INT64_MIN (any smaller
 * negative number reads as it) and UINT64_MAX (any larger number).
 */
static void
check_clamped_int(struct json_object *o)
{
	int64		i = json_object_get_int64(o);

	if (i == PG_INT64_MIN ||
		(i == PG_INT64_MAX && json_object_get_uint64(o) == PG_UINT64_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("integer in the API response is out of range"),
				 errdetail("The JSON parser reads any integer beyond %s as that value, so it cannot be trusted; integers from -9223372036854775807 to 18446744073709551614 are read exactly.",
						   i == PG_INT64_MIN ? "-9223372036854775808" :
						   "18446744073709551615")));
}

/* check_clamped_int over a whole subtree, before it is serialized */
static void
check_clamped_tree(struct json_object *o)
{
	check_stack_depth();
	switch (json_object_get_type(o))
	{
		case json_type_int:
			check_clamped_int(o);
			break;
		case json_type_array:
			{
				size_t		n = json_object_array_length(o);

				for (size_t i = 0; i < n; i++)
					check_clamped_tree(json_object_array_get_idx(o, i));
			}
			break;
		case json_type_object:
			{
				struct lh_entry *e;

				for (e = lh_table_head(json_object_get_object(o)); e;
					 e = lh_entry_next(e))
					check_clamped_tree((struct json_object *) lh_entry_v(e));
			}
			break;
		default:
			break;
	}
}

/* Serialize a tree (json-c's buffer, valid until the tree changes). */
static const char *
serialize(struct json_object *o, size_t *len)
{
	const char *s;

	check_clamped_tree(o);
	s = json_object_to_json_string_length(o, PGAPI_JSON_TO_STRING, len);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return s;
}

/* A string holding "\\u0000" cannot become SQL text (22P05, B7). */
static pg_attribute_noreturn() void
nul_in_string(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
			 errmsg("unsupported Unicode escape sequence"),
			 errdetail("\\u0000 cannot be converted to text.")));
}

/*
 * value_text
 *		Text of a non-null value as an input function should see it, without
 *		copying when possible: a string's contents (unquoted), a number as
 *		written, true/false, JSON text of an object or array.  buf (at least
 *		32 bytes) may receive the text.  *utf8 is set when the text may hold
 *		non-ASCII bytes needing conversion to the server encoding.  ereports
 *		22P05 for a string holding "\u0000" and 22003 for a clamped integer.
 */
static const char *
value_text(struct json_object *o, char *buf, size_t *len, bool *utf8)
{
	*utf8 = false;
	switch (json_object_get_type(o))
	{
		case json_type_string:
			{
				const char *s = json_object_get_string(o);

				*len = (size_t) json_object_get_string_len(o);
				if (strlen(s) != *len)
					nul_in_string();
				*utf8 = true;
				return s;
			}
		case json_type_int:
			{
				int64		i = json_object_get_int64(o);

				check_clamped_int(o);
				if (i == PG_INT64_MAX && json_object_get_uint64(o) > (uint64) PG_INT64_MAX)
					*len = snprintf(buf, 32, UINT64_FORMAT,
									(uint64) json_object_get_uint64(o));
				else
					*len = snprintf(buf, 32, INT64_FORMAT, i);
				return buf;
			}
		case json_type_double:
			{
				/* the parser keeps the source text as userdata */
				const char *s = json_object_get_userdata(o);

				if (s == NULL)
					s = json_object_to_json_string_ext(o, PGAPI_JSON_TO_STRING);
				*len = strlen(s);
				return s;
			}
		case json_type_boolean:
			if (json_object_get_boolean(o))
			{
				*len = 4;
				return "true";
			}
			*len = 5;
			return "false";
		case json_type_object:
		case json_type_array:
			*utf8 = true;
			return serialize(o, len);
		case json_type_null:
		default:
			*len = 4;
			return "null";
	}
}

/* Convert UTF-8 text to the server encoding; NUL-terminated result. */
static inline char *
to_server(const char *s, size_t len, bool utf8)
{
	if (utf8 && GetDatabaseEncoding() != PG_UTF8)
	{
		char	   *r = pg_any_to_server(s, (int) len, PG_UTF8);

		return (r == s) ? pnstrdup(s, len) : r;
	}
	return (char *) s;
}

/*
 * pgapi_json_hash
 *		A 64-bit hash of the JSON text of v (0 for NULL): equal values hash
 *		alike, so a scan can tell whether a page repeats an earlier one.
 *		Unlike serialize(), no check for clamped integers: a page is not
 *		converted here.  Never ereports except on out-of-memory.
 */
uint64
pgapi_json_hash(PgApiJsonValue v)
{
	size_t		len;
	const char *s;

	if (v == NULL)
		return 0;
	s = json_object_to_json_string_length(JV(v), PGAPI_JSON_TO_STRING, &len);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return hash_bytes_extended((const unsigned char *) s,
							   (int) Min(len, (size_t) INT_MAX), 0);
}

/*
 * pgapi_json_to_text
 *		JSON text of any value (NULL gives "null"), palloc'd, UTF-8.
 *		ereports 22003 if it holds a clamped integer.
 */
char *
pgapi_json_to_text(PgApiJsonValue v)
{
	size_t		len;
	const char *s;

	if (v == NULL)
		return pstrdup("null");
	s = serialize(JV(v), &len);
	return pnstrdup(s, len);
}

/*
 * pgapi_json_scalar_text
 *		palloc'd text of a value as a SQL input function should see it (see
 *		value_text), UTF-8 as in the document; NULL for null or missing.
 */
char *
pgapi_json_scalar_text(PgApiJsonValue v)
{
	char		buf[32];
	size_t		len;
	bool		utf8;
	const char *s;

	if (v == NULL)
		return NULL;
	s = value_text(JV(v), buf, &len, &utf8);
	return pnstrdup(s, len);
}

/* ----------------------------------------------------------------
 *		Column conversion
 * ----------------------------------------------------------------
 */

static PgApiConvKind
conv_kind_for(Oid typid, int32 typmod)
{
	switch (typid)
	{
		case TEXTOID:
			return PGAPI_CONV_TEXT;
		case VARCHAROID:
			return (typmod < 0) ? PGAPI_CONV_TEXT : PGAPI_CONV_INPUT;
		case JSONOID:
		case JSONBOID:
			return PGAPI_CONV_JSON;
		case TIMESTAMPTZOID:
			return PGAPI_CONV_TIMESTAMPTZ;
		default:
			return PGAPI_CONV_INPUT;
	}
}

/*
 * pgapi_json_init_conv
 *		Fill conv for a column of type typid/typmod.  The FmgrInfos are made
 *		in CurrentMemoryContext (the caller's per-scan context).  Catalog
 *		lookups may ereport.
 */
void
pgapi_json_init_conv(PgApiColumnConv *conv, Oid typid, int32 typmod)
{
	Oid			infunc;
	Oid			elemtype;

	memset(conv, 0, sizeof(PgApiColumnConv));
	conv->typid = typid;
	conv->typmod = typmod;
	getTypeInputInfo(typid, &infunc, &conv->typioparam);
	fmgr_info(infunc, &conv->inflinfo);
	conv->kind = conv_kind_for(typid, typmod);

	/* true arrays only: not int2vector, oidvector, point, ... */
	elemtype = get_element_type(typid);
	if (conv->kind == PGAPI_CONV_INPUT && OidIsValid(elemtype) &&
		get_array_type(elemtype) == typid)
	{
		conv->kind = PGAPI_CONV_ARRAY;
		conv->elemtype = elemtype;
		getTypeInputInfo(elemtype, &infunc, &conv->elem_ioparam);
		fmgr_info(infunc, &conv->elem_inflinfo);
		get_typlenbyvalalign(elemtype, &conv->elmlen, &conv->elmbyval,
							 &conv->elmalign);
		conv->elemkind = conv_kind_for(elemtype, typmod);
	}
}

/* palloc'd text Datum, without utils/builtins.h */
static Datum
make_text_datum(const char *s, size_t len)
{
	text	   *t;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string of %zu bytes is too long", len)));
	t = (text *) palloc(len + VARHDRSZ);
	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return PointerGetDatum(t);
}

/* Printable name of a type, through fmgr (no format_type_be here). */
static char *
type_name(Oid typid)
{
	return DatumGetCString(OidFunctionCall1(F_REGTYPEOUT,
											ObjectIdGetDatum(typid)));
}

/*
 * A UTF-8 value for error messages: in the server encoding, at most 64
 * bytes, whole characters.
 */
static char *
excerpt(const char *s, size_t len)
{
	char	   *t = to_server(s, len, true);
	int			l;

	len = strlen(t);
	l = pg_mbcliplen(t, (int) Min(len, (size_t) 64), 64);
	return (len > (size_t) l) ? psprintf("%.*s...", l, t) : pnstrdup(t, len);
}

static void
timestamp_out_of_range(const char *s, size_t len)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range: Unix time %s",
					excerpt(s, len))));
}

/*
 * A scalar as the conversions see it, taken from a json-c object
 * (scalar_from_object) or from a token of a tape (pgapi_json_tape_to_datum):
 * the JSON type and the text value_text() gives for it.  Keeping one
 * conversion for both sources makes the tape path convert exactly as the
 * tree path does.
 */
typedef struct JsonScalar
{
	enum json_type jt;			/* string, int, double or boolean; object or
								 * array for JSON text */
	const char *s;				/* the text; NULL for an int until
								 * scalar_cstring() prints ival */
	size_t		len;
	bool		terminated;		/* s[len] is '\0' */
	bool		utf8;			/* s may hold non-ASCII UTF-8 */
	bool		exact_int;		/* jt is int and ival holds it exactly */
	int64		ival;
	char		buf[32];
} JsonScalar;

/* v's text, NUL-terminated (a tape token is copied, an int printed) */
static const char *
scalar_cstring(JsonScalar *v)
{
	if (v->s == NULL)
	{
		v->len = snprintf(v->buf, sizeof(v->buf), INT64_FORMAT, v->ival);
		v->s = v->buf;
		v->terminated = true;
	}
	else if (!v->terminated)
	{
		v->s = pnstrdup(v->s, v->len);
		v->terminated = true;
	}
	return v->s;
}

/*
 * The scalar view of a non-null json-c value other than an object or
 * array; ereports as value_text() does (22P05 for "\u0000", 22003 for a
 * clamped integer).
 */
static void
scalar_from_object(struct json_object *o, JsonScalar *v)
{
	v->jt = json_object_get_type(o);
	v->exact_int = false;
	v->terminated = true;
	if (v->jt == json_type_int)
	{
		int64		i = json_object_get_int64(o);

		check_clamped_int(o);
		if (i == PG_INT64_MAX &&
			json_object_get_uint64(o) > (uint64) PG_INT64_MAX)
		{
			/* text only: no SQL integer type holds it */
			v->len = snprintf(v->buf, sizeof(v->buf), UINT64_FORMAT,
							  (uint64) json_object_get_uint64(o));
			v->s = v->buf;
		}
		else
		{
			v->exact_int = true;
			v->ival = i;
			v->s = NULL;
		}
		v->utf8 = false;
		return;
	}
	v->s = value_text(o, v->buf, &v->len, &v->utf8);
}

/*
 * convert_scalar
 *		The Datum of a scalar (or of the JSON text of a container) for a
 *		column of kind TEXT, TIMESTAMPTZ, INPUT or ARRAY (JSON and arrays of
 *		a JSON array are convert_value's).  flinfo/ioparam/typmod/typid
 *		describe the target type.
 */
static Datum
convert_scalar(JsonScalar *v, PgApiConvKind kind, FmgrInfo *flinfo,
			   Oid ioparam, int32 typmod, Oid typid)
{
	switch (kind)
	{
		case PGAPI_CONV_TEXT:
			if (v->utf8 && GetDatabaseEncoding() != PG_UTF8)
			{
				const char *s = pg_any_to_server(scalar_cstring(v),
												 (int) v->len, PG_UTF8);

				return make_text_datum(s, strlen(s));
			}
			if (v->s == NULL)
				scalar_cstring(v);
			return make_text_datum(v->s, v->len);

		case PGAPI_CONV_TIMESTAMPTZ:
			if (v->jt == json_type_int || v->jt == json_type_double)
			{
				TimestampTz ts;

				if (!pgapi_unix_to_timestamptz(scalar_cstring(v), v->len, &ts))
					timestamp_out_of_range(v->s, v->len);
				if (typmod >= 0)
					AdjustTimestampForTypmod(&ts, typmod);
				return TimestampTzGetDatum(ts);
			}
			scalar_cstring(v);
			if (v->jt != json_type_string || !pgapi_is_rfc3339(v->s, v->len))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
						 errmsg("invalid input syntax for type timestamp with time zone: \"%s\"",
								excerpt(v->s, v->len)),
						 errdetail("A timestamp from the API must be an RFC 3339 string with an explicit offset (\"Z\" or \"+hh:mm\") or a number of Unix seconds.")));
			/* ASCII only, per is_rfc3339 */
			return InputFunctionCall(flinfo, (char *) v->s, ioparam, typmod);

		case PGAPI_CONV_INPUT:

			/*
			 * Integers into integer columns: the value int8in/int4in/int2in
			 * would return for the text, without printing and reparsing
			 * it.  Anything out of range takes the input function below,
			 * for its own error.
			 */
			if (v->jt == json_type_int && v->exact_int)
			{
				int64		i = v->ival;

				if (typid == INT8OID)
					return Int64GetDatum(i);
				if (typid == INT4OID && i >= PG_INT32_MIN && i <= PG_INT32_MAX)
					return Int32GetDatum((int32) i);
				if (typid == INT2OID && i >= PG_INT16_MIN && i <= PG_INT16_MAX)
					return Int16GetDatum((int16) i);
			}
			/* FALLTHROUGH */
		case PGAPI_CONV_ARRAY:
		default:
			/* the type's input function decides */
			return InputFunctionCall(flinfo,
									 to_server(scalar_cstring(v), v->len, v->utf8),
									 ioparam, typmod);
	}
}

/*
 * convert_value
 *		One non-null JSON value to a Datum by kind (see pgapi_json_to_datum).
 *		flinfo/ioparam/typmod/typid describe the target type; conv is used
 *		for arrays only.
 */
static Datum
convert_value(struct json_object *o, PgApiConvKind kind, FmgrInfo *flinfo,
			  Oid ioparam, int32 typmod, Oid typid, PgApiColumnConv *conv)
{
	size_t		len;
	const char *s;
	enum json_type jt = json_object_get_type(o);
	JsonScalar	v;

	if (kind == PGAPI_CONV_JSON)
	{
		s = serialize(o, &len);
		return InputFunctionCall(flinfo, to_server(s, len, true),
								 ioparam, typmod);
	}

	if (kind == PGAPI_CONV_ARRAY && jt == json_type_array)
	{
		int			n = (int) json_object_array_length(o);
		Datum	   *vals;
		bool	   *nulls;
		int			dims[1];
		int			lbs[1];

		if (n == 0)
			return PointerGetDatum(construct_empty_array(conv->elemtype));
		vals = palloc(n * sizeof(Datum));
		nulls = palloc(n * sizeof(bool));
		for (int i = 0; i < n; i++)
		{
			struct json_object *e = json_object_array_get_idx(o, i);

			nulls[i] = (e == NULL);
			vals[i] = nulls[i] ? (Datum) 0 :
				convert_value(e, conv->elemkind,
							  &conv->elem_inflinfo,
							  conv->elem_ioparam, typmod,
							  conv->elemtype, NULL);
		}
		dims[0] = n;
		lbs[0] = 1;
		return PointerGetDatum(construct_md_array(vals, nulls, 1,
												  dims, lbs,
												  conv->elemtype,
												  conv->elmlen,
												  conv->elmbyval,
												  conv->elmalign));
	}
	if (kind == PGAPI_CONV_ARRAY && jt == json_type_object)
	{
		/* array_in would read "{}" as an empty array */
		s = serialize(o, &len);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"",
						type_name(typid), excerpt(s, len)),
				 errdetail("A JSON object cannot be converted to an array.")));
	}

	if (jt == json_type_object || jt == json_type_array)
	{
		/* JSON text: text columns keep it, other types get it as input */
		v.jt = jt;
		v.s = serialize(o, &v.len);
		v.terminated = true;
		v.utf8 = true;
		v.exact_int = false;
	}
	else
		scalar_from_object(o, &v);
	return convert_scalar(&v, kind, flinfo, ioparam, typmod, typid);
}

/*
 * pgapi_json_to_datum
 *		Convert v for the column described by conv.  JSON null or a missing
 *		value gives *isnull.  Every value goes through the column type's
 *		input function with the column's typmod (text/varchar are copied),
 *		so a value that does not fit fails with that function's own error
 *		(22P02, 22003, ...), never a coerced value.  The result is palloc'd
 *		in CurrentMemoryContext (the per-tuple context).  The caller's error
 *		context names the column and table.
 */
Datum
pgapi_json_to_datum(PgApiJsonValue v, PgApiColumnConv *conv, bool *isnull)
{
	if (v == NULL || json_object_get_type(JV(v)) == json_type_null)
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;
	return convert_value(JV(v), conv->kind, &conv->inflinfo,
						 conv->typioparam, conv->typmod, conv->typid, conv);
}

/*
 * A token of a tape converted through json-c: the value's text parsed
 * again on its own (a json-c tree of just this value, freed here whatever
 * happens), then pgapi_json_to_datum.  For what the tape path does not
 * convert itself: objects, arrays, json/jsonb columns, integers of more
 * than 18 digits.
 */
static Datum
tape_value_via_tree(const PgApiTape *t, uint32 idx, PgApiColumnConv *conv,
					bool *isnull)
{
	const PgApiTapeNode *n = &t->nodes[idx];
	struct json_object *o;
	size_t		erroff;
	const char *what;
	volatile Datum result = (Datum) 0;

	/* the tape checked the whole document: this cannot fail */
	if (!json_parse_strict(t->data + n->start, n->len, &o, &erroff, &what))
		elog(ERROR, "could not parse a JSON value of a checked document: %s",
			 what);
	PG_TRY();
	{
		result = pgapi_json_to_datum(PV(o), conv, isnull);
	}
	PG_FINALLY();
	{
		json_tree_free(o);
	}
	PG_END_TRY();
	return result;
}

/*
 * pgapi_json_tape_to_datum
 *		pgapi_json_to_datum for node idx of a tape: the same Datum, the same
 *		errors.  Strings, numbers and booleans are converted from the token
 *		text through convert_scalar, as the tree path converts them;
 *		anything else goes through tape_value_via_tree.  Allocates in
 *		CurrentMemoryContext.
 */
Datum
pgapi_json_tape_to_datum(const PgApiTape *t, uint32 idx,
						 PgApiColumnConv *conv, bool *isnull)
{
	const PgApiTapeNode *n = &t->nodes[idx];
	const char *p = t->data + n->start;
	JsonScalar	v;

	*isnull = false;
	if (n->type == PGAPI_TAPE_NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (conv->kind == PGAPI_CONV_JSON)
		return tape_value_via_tree(t, idx, conv, isnull);

	v.exact_int = false;
	v.utf8 = false;
	v.terminated = false;
	switch (n->type)
	{
		case PGAPI_TAPE_STRING:
			v.jt = json_type_string;
			v.utf8 = true;
			if (n->flags & PGAPI_TAPE_ESCAPED)
			{
				v.s = pgapi_tape_string(t, idx, &v.len);
				if (strlen(v.s) != v.len)
					nul_in_string();
				v.terminated = true;
			}
			else
			{
				v.s = p + 1;
				v.len = n->len - 2;
			}
			break;
		case PGAPI_TAPE_INT:
			{
				bool		neg = (p[0] == '-');
				uint32		ndigits = n->len - (neg ? 1 : 0);
				int64		i = 0;

				/* 18 digits always fit; json-c clamps beyond int64 */
				if (ndigits > 18)
					return tape_value_via_tree(t, idx, conv, isnull);
				for (uint32 k = neg ? 1 : 0; k < n->len; k++)
					i = i * 10 + (p[k] - '0');
				v.jt = json_type_int;
				v.exact_int = true;
				v.ival = neg ? -i : i;
				v.s = NULL;
			}
			break;
		case PGAPI_TAPE_DOUBLE:
			/* json-c keeps a double's source text: the token */
			v.jt = json_type_double;
			v.s = p;
			v.len = n->len;
			break;
		case PGAPI_TAPE_TRUE:
		case PGAPI_TAPE_FALSE:
			v.jt = json_type_boolean;
			v.s = (n->type == PGAPI_TAPE_TRUE) ? "true" : "false";
			v.len = strlen(v.s);
			v.terminated = true;
			break;
		default:
			return tape_value_via_tree(t, idx, conv, isnull);
	}
	return convert_scalar(&v, conv->kind, &conv->inflinfo, conv->typioparam,
						  conv->typmod, conv->typid);
}

/* ----------------------------------------------------------------
 *		Error envelopes
 * ----------------------------------------------------------------
 */

/*
 * Append up to the cap, replacing control characters by spaces and, in a
 * non-UTF-8 database, non-ASCII bytes by '?', so that the text is safe for
 * errdetail without a conversion that could ereport.  An error body is not
 * checked as UTF-8 before it gets here: in a UTF-8 database, a byte that
 * does not start a valid UTF-8 character becomes '?' too, so DETAIL is
 * always valid in the server encoding.
 */
static void
append_capped(StringInfo buf, const char *s, size_t len)
{
	bool		ascii_only = (GetDatabaseEncoding() != PG_UTF8);

	for (size_t i = 0; i < len && buf->len < PGAPI_JSON_ERROR_MAX; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c >= 0x80 && ascii_only)
			c = '?';
		else if (c >= 0x80)
		{
			/* keep a valid multibyte character whole, or drop it at the cap */
			int			l = pg_utf_mblen(&c);

			if (i + l <= len &&
				pg_utf8_islegal((const unsigned char *) s + i, l))
			{
				if (buf->len + l > PGAPI_JSON_ERROR_MAX)
					break;
				appendBinaryStringInfo(buf, s + i, l);
				i += l - 1;
				continue;
			}
			c = '?';
		}
		appendStringInfoChar(buf, (char) c);
	}
}

/* text of a scalar or JSON text, without ereport (clamps don't matter) */
static const char *
lenient_text(struct json_object *o, size_t *len)
{
	const char *s;

	if (json_object_is_type(o, json_type_string))
	{
		s = json_object_get_string(o);
		*len = strlen(s);
		return s;
	}
	s = json_object_to_json_string_ext(o, PGAPI_JSON_TO_STRING);
	*len = s ? strlen(s) : 0;
	return s ? s : "";
}

static char *
capped_copy(struct json_object *o)
{
	StringInfoData buf;
	size_t		len;
	const char *s;

	if (o == NULL)
		return NULL;
	s = lenient_text(o, &len);
	initStringInfo(&buf);
	append_capped(&buf, s, len);
	return buf.data;
}

/*
 * pgapi_json_error_fields
 *		Pick the API's error text out of an error body, for DETAIL:
 *		ClickHouse {"error": ..., "requestId": ...} and GraphQL
 *		{"errors": [{"message", "path", "extensions": {"code"}}]} (messages
 *		joined with "; ", each with " (path: a.b)").  Outputs are palloc'd,
 *		capped at 1 KiB, control characters blanked, or NULL when absent.
 *		Parses leniently and never ereports except for palloc failure: it
 *		runs while another error is being built.
 */
void
pgapi_json_error_fields(const char *data, size_t len, char **message,
						char **request_id, char **code)
{
	struct json_tokener *tok;
	struct json_object *root = NULL;
	struct json_object *v;

	*message = NULL;
	*request_id = NULL;
	*code = NULL;
	if (data == NULL || len == 0 || len > (size_t) INT_MAX - 1)
		return;

	tok = json_tokener_new_ex(PGAPI_JSON_MAX_DEPTH + 1);
	if (tok == NULL)
		return;
	root = json_tokener_parse_ex(tok, data, (int) len);
	json_tokener_free(tok);
	if (root == NULL)
		return;
	if (!json_object_is_type(root, json_type_object))
	{
		json_tree_free(root);
		return;
	}

	/* palloc below can only fail with OOM; the tree then leaks (rare) */
	if (json_object_object_get_ex(root, "error", &v) && v != NULL)
		*message = capped_copy(v);
	if (json_object_object_get_ex(root, "requestId", &v) && v != NULL)
		*request_id = capped_copy(v);

	if (json_object_object_get_ex(root, "errors", &v) &&
		json_object_is_type(v, json_type_array))
	{
		StringInfoData buf;
		size_t		n = json_object_array_length(v);

		initStringInfo(&buf);
		for (size_t i = 0; i < n && buf.len < PGAPI_JSON_ERROR_MAX; i++)
		{
			struct json_object *e = json_object_array_get_idx(v, i);
			struct json_object *m;
			struct json_object *p;
			struct json_object *x;
			size_t		l;
			const char *s;

			if (!json_object_is_type(e, json_type_object))
				continue;
			if (buf.len > 0)
				append_capped(&buf, "; ", 2);
			if (json_object_object_get_ex(e, "message", &m) && m != NULL)
				s = lenient_text(m, &l);
			else
				s = lenient_text(e, &l);
			append_capped(&buf, s, l);
			if (json_object_object_get_ex(e, "path", &p) &&
				json_object_is_type(p, json_type_array) &&
				json_object_array_length(p) > 0)
			{
				append_capped(&buf, " (path: ", 8);
				for (size_t k = 0; k < json_object_array_length(p); k++)
				{
					if (k > 0)
						append_capped(&buf, ".", 1);
					s = lenient_text(json_object_array_get_idx(p, k), &l);
					append_capped(&buf, s, l);
				}
				append_capped(&buf, ")", 1);
			}
			if (*code == NULL &&
				json_object_object_get_ex(e, "extensions", &x) &&
				json_object_object_get_ex(x, "code", &x) && x != NULL)
				*code = capped_copy(x);
		}
		if (buf.len > 0 && *message == NULL)
			*message = buf.data;
		else
			pfree(buf.data);
	}
	json_tree_free(root);
}

/* ----------------------------------------------------------------
 *		Builder
 * ----------------------------------------------------------------
 */

static PgApiJsonBuilder *
builder_new(bool is_array)
{
	PgApiJsonBuilder *b = palloc0(sizeof(PgApiJsonBuilder));

	b->is_array = is_array;
	b->cb.func = builder_free_callback;
	b->cb.arg = b;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &b->cb);
	b->root = is_array ? json_object_new_array() : json_object_new_object();
	if (b->root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return b;
}

/*
 * pgapi_jb_object, pgapi_jb_array
 *		A builder palloc'd in CurrentMemoryContext; its json-c tree is freed
 *		with that context.  Values added are in the server encoding and are
 *		converted to UTF-8; the output is UTF-8.
 */
PgApiJsonBuilder *
pgapi_jb_object(void)
{
	return builder_new(false);
}

PgApiJsonBuilder *
pgapi_jb_array(void)
{
	return builder_new(true);
}

/*
 * Server-encoding text to UTF-8 for json-c (output goes to the API).  In a
 * SQL_ASCII database nothing is converted, so the bytes are verified.
 */
static char *
server_to_utf8(const char *s, size_t *len)
{
	char	   *u;

	if (GetDatabaseEncoding() == PG_UTF8)
		return (char *) s;
	u = pg_server_to_any(s, (int) *len, PG_UTF8);
	if (u != s)
		*len = strlen(u);
	(void) pg_verify_mbstr(PG_UTF8, u, (int) *len, false);
	return u;
}

/*
 * Check that b can take a value under key (NULL for arrays) and return the
 * key in UTF-8.  Called before the value is made, so that an ERROR here
 * leaks nothing.
 */
static char *
builder_key(PgApiJsonBuilder *b, const char *key)
{
	size_t		klen;

	if (b->root == NULL)
		elog(ERROR, "JSON builder used after it was finished or moved");
	if (b->is_array != (key == NULL))
		elog(ERROR, "JSON builder: a key is required for objects only");
	if (key == NULL)
		return NULL;
	klen = strlen(key);
	return server_to_utf8(key, &klen);
}

/*
 * Add val (ownership passes; NULL is JSON null) under ukey from
 * builder_key(), or append when it is NULL.
 */
static void
builder_add(PgApiJsonBuilder *b, const char *ukey, struct json_object *val)
{
	int			rc;

	if (ukey)
		rc = json_object_object_add(b->root, ukey, val);
	else
		rc = json_object_array_add(b->root, val);
	if (rc != 0)
	{
		json_object_put(val);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
}

/* check a json-c constructor's result */
static struct json_object *
jb_checked(struct json_object *o)
{
	if (o == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return o;
}

/* value NULL adds JSON null */
void
pgapi_jb_add_string(PgApiJsonBuilder *b, const char *key, const char *value)
{
	char	   *ukey = builder_key(b, key);
	char	   *u;
	size_t		len;

	if (value == NULL)
	{
		builder_add(b, ukey, NULL);
		return;
	}
	len = strlen(value);
	u = server_to_utf8(value, &len);
	builder_add(b, ukey, jb_checked(json_object_new_string_len(u, (int) len)));
}

void
pgapi_jb_add_int64(PgApiJsonBuilder *b, const char *key, int64 value)
{
	char	   *ukey = builder_key(b, key);

	builder_add(b, ukey, jb_checked(json_object_new_int64(value)));
}

void
pgapi_jb_add_bool(PgApiJsonBuilder *b, const char *key, bool value)
{
	char	   *ukey = builder_key(b, key);

	builder_add(b, ukey, jb_checked(json_object_new_boolean(value)));
}

void
pgapi_jb_add_null(PgApiJsonBuilder *b, const char *key)
{
	builder_add(b, builder_key(b, key), NULL);
}

/*
 * pgapi_jb_add_json
 *		Parse json_text (server encoding, e.g. a jsonb column's output) with
 *		the response rules and add the value.  ereports 22P02 if it is not
 *		exactly one JSON document.
 */
void
pgapi_jb_add_json(PgApiJsonBuilder *b, const char *key, const char *json_text)
{
	char	   *ukey = builder_key(b, key);
	size_t		len = strlen(json_text);
	char	   *u = server_to_utf8(json_text, &len);
	size_t		erroff;
	const char *what;
	struct json_object *val;

	if (!json_parse_strict(u, len, &val, &erroff, &what))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type json"),
				 errdetail_internal("%s at byte offset %zu", what, erroff)));
	builder_add(b, ukey, val);
}

/* Move child's tree into b; child is empty afterwards. */
void
pgapi_jb_add_builder(PgApiJsonBuilder *b, const char *key,
					 PgApiJsonBuilder *child)
{
	char	   *ukey = builder_key(b, key);
	struct json_object *val = child->root;

	if (val == NULL || child == b)
		elog(ERROR, "JSON builder used after it was finished or moved");
	child->root = NULL;
	builder_add(b, ukey, val);
}

/*
 * pgapi_jb_finish
 *		The document as palloc'd UTF-8 text (json-c escapes strings), its
 *		length in *len (may be NULL).  Frees the tree: b is empty afterwards.
 */
char *
pgapi_jb_finish(PgApiJsonBuilder *b, size_t *len)
{
	const char *s;
	size_t		l;
	char	   *result;

	if (b->root == NULL)
		elog(ERROR, "JSON builder used after it was finished or moved");
	s = json_object_to_json_string_length(b->root, PGAPI_JSON_TO_STRING, &l);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	result = pnstrdup(s, l);
	json_tree_free(b->root);
	b->root = NULL;
	if (len)
		*len = l;
	return result;
}

/*-------------------------------------------------------------------------
 *
 * jsontape.c
 *		  A one-pass validating JSON parser that records a flat tape of
 *		  tokens, for reading pages of rows without a json-c tree.
 *
 * A page of rows (an envelope holding an array of flat objects) is the one
 * document the FDW reads in bulk.  Building json-c's tree for it costs an
 * allocation and a hash-table insert per member and a free per value; this
 * parser instead checks the document and records each value as a node of a
 * flat array (its type, byte span, and for containers the member count and
 * the index of the node after the subtree), so that scan.c can look the
 * columns up in a row with byte comparisons and convert the token text
 * directly (json.c, pgapi_json_tape_to_datum).
 *
 * Strictness.  The tape must never accept a document that the json-c path
 * (pgapi_json_parse: json_lex_check, then json-c in STRICT mode with the
 * depth limit, consuming the whole body) refuses: a caller that gets NULL
 * parses the body the old way, which raises the error with its usual
 * message, so refusing more is harmless and accepting more would be a
 * hole.  The rules are RFC 8259 exactly, as json_lex_check enforces them:
 * whitespace is space, tab, LF and CR only; strings hold no raw control
 * characters, only the escapes \" \\ \/ \b \f \n \r \t \uXXXX, and no lone
 * surrogates; numbers are -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?;
 * literals are true, false, null; no trailing commas, no trailing data;
 * containers nest at most max_depth levels.  The input must already be
 * valid UTF-8 (the caller runs pg_verify_mbstr first, as the old path
 * does), so non-ASCII bytes are only checked to be inside strings.
 * src/test/fuzz/fuzz_jsontape.c checks the equivalence with json-c on
 * random documents.
 *
 * Numbers are typed as json-c types them: without '.', 'e' or 'E' an
 * integer, else a double.  Keys and strings keep their raw bytes; a string
 * with a backslash escape is flagged, and pgapi_tape_string() decodes it.
 *
 * This file does not include json-c and ereports nothing: failure is a
 * NULL result.  Memory: the tape is palloc'd in CurrentMemoryContext.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/jsontape.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "utils/memutils.h"

#include "pgapi_fdw.h"

/* Bytes that stand for themselves in a string: not '"', '\\' or < 0x20. */
static bool tape_plain[256];
static bool tape_plain_ready = false;

static void
tape_plain_init(void)
{
	for (int c = 0; c < 256; c++)
		tape_plain[c] = (c >= 0x20 && c != '"' && c != '\\');
	tape_plain_ready = true;
}

/* JSON whitespace; the first test settles the common case, any other byte */
#define TAPE_IS_WS(c)		((c) <= ' ' && \
							 ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t'))

/*
 * Eight bytes at a time (little-endian order: byte k of the input is bits
 * 8k..8k+7): the high bit of each byte that is '"', '\\' or below 0x20 is
 * set.  The classic "has a zero byte" test: a borrow may also flag bytes
 * after a hit, never one before it, so the lowest set bit is the first
 * special byte.
 */
#define ONES		UINT64CONST(0x0101010101010101)
#define HIGHS		UINT64CONST(0x8080808080808080)
static inline uint64
string_special(uint64 v)
{
	uint64		q = v ^ (ONES * '"');
	uint64		b = v ^ (ONES * '\\');

	return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((v - ONES * 0x20) & ~v)) & HIGHS;
}

/*
 * Scan the string whose opening quote is at s[*pos]; on success *pos is
 * just past the closing quote and *escaped tells whether it holds a
 * backslash escape.
 */
static inline bool
tape_scan_string(const unsigned char *s, size_t len, size_t *pos, bool *escaped)
{
	size_t		i = *pos + 1;

	*escaped = false;
	for (;;)
	{
		unsigned char c;
		int			pair;

		for (;;)
		{
			uint64		v;
			uint64		m;

			if (i + 8 > len)
			{
				while (i < len && tape_plain[s[i]])
					i++;
				break;
			}
			memcpy(&v, s + i, 8);
#ifdef WORDS_BIGENDIAN
			v = pg_bswap64(v);
#endif
			m = string_special(v);
			if (m)
			{
				i += pg_rightmost_one_pos64(m) / 8;
				break;
			}
			i += 8;
		}
		if (i >= len)
			return false;		/* unterminated */
		c = s[i];
		if (c == '"')
		{
			*pos = i + 1;
			return true;
		}
		if (c < 0x20 || i + 1 >= len)
			return false;		/* raw control character, or unterminated */
		*escaped = true;
		if (pgapi_json_scan_escape(s, len, &i, &pair) != PGAPI_ESCAPE_OK)
			return false;
	}
}

/* No node: the tape cannot grow. */
#define TAPE_NO_NODE	PG_UINT32_MAX

/* Append a node; its index, or TAPE_NO_NODE. */
static inline uint32
tape_new_node(PgApiTape *t, PgApiTapeType type, size_t start)
{
	PgApiTapeNode *n;

	if (unlikely(t->nnodes == t->cap))
	{
		size_t		newcap = (size_t) t->cap * 2;

		if (newcap * sizeof(PgApiTapeNode) > MaxAllocSize)
			return TAPE_NO_NODE;
		t->nodes = repalloc(t->nodes, newcap * sizeof(PgApiTapeNode));
		t->cap = (uint32) newcap;
	}
	n = &t->nodes[t->nnodes];
	n->start = (uint32) start;
	n->len = 0;
	n->next = t->nnodes + 1;
	n->count = 0;
	n->type = (uint8) type;
	n->flags = 0;
	return t->nnodes++;
}

/*
 * pgapi_tape_parse
 *		Check data[0..len) as one JSON document (see the file header for the
 *		rules) nesting at most max_depth (<= PGAPI_TAPE_MAX_DEPTH) levels,
 *		and return its tape, palloc'd in CurrentMemoryContext; node 0 is the
 *		document's value.  NULL if the document is refused (or too large
 *		for a tape): the caller then parses it with pgapi_json_parse, which
 *		reports why.  data must be valid UTF-8.  Never ereports, except
 *		for running out of memory.
 */
PgApiTape *
pgapi_tape_parse(const char *data, size_t len, int max_depth)
{
	const unsigned char *s = (const unsigned char *) data;
	uint32		stack[PGAPI_TAPE_MAX_DEPTH];
	int			depth = 0;
	size_t		i = 0;
	PgApiTape  *t;
	uint32		n;
	bool		flag;

	if (len > (size_t) INT_MAX - 1 || max_depth > PGAPI_TAPE_MAX_DEPTH)
		return NULL;
	if (unlikely(!tape_plain_ready))
		tape_plain_init();

	t = palloc(sizeof(PgApiTape));
	t->data = data;
	t->len = len;
	t->escaped_keys = false;
	t->nnodes = 0;
	/* a row member takes some 12 bytes of JSON at least */
	t->cap = (uint32) Min(Max(len / 12, 16), MaxAllocSize / sizeof(PgApiTapeNode) / 2);
	t->nodes = palloc(t->cap * sizeof(PgApiTapeNode));

value:
	while (i < len && TAPE_IS_WS(s[i]))
		i++;
	if (i >= len)
		goto fail;
	switch (s[i])
	{
		case '{':
		case '[':
			if (depth >= max_depth)
				goto fail;
			n = tape_new_node(t, s[i] == '{' ? PGAPI_TAPE_OBJECT : PGAPI_TAPE_ARRAY, i);
			if (n == TAPE_NO_NODE)
				goto fail;
			stack[depth++] = n;
			i++;
			while (i < len && TAPE_IS_WS(s[i]))
				i++;
			if (i < len && s[i] == (t->nodes[n].type == PGAPI_TAPE_OBJECT ? '}' : ']'))
			{
				i++;
				goto close;
			}
			if (t->nodes[n].type == PGAPI_TAPE_OBJECT)
				goto key;
			goto value;
		case '"':
			n = tape_new_node(t, PGAPI_TAPE_STRING, i);
			if (n == TAPE_NO_NODE)
				goto fail;
			if (!tape_scan_string(s, len, &i, &flag))
				goto fail;
			t->nodes[n].len = (uint32) (i - t->nodes[n].start);
			if (flag)
				t->nodes[n].flags = PGAPI_TAPE_ESCAPED;
			goto after_value;
		case 't':
			if (len - i < 4 || memcmp(s + i, "true", 4) != 0)
				goto fail;
			n = tape_new_node(t, PGAPI_TAPE_TRUE, i);
			i += 4;
			break;
		case 'f':
			if (len - i < 5 || memcmp(s + i, "false", 5) != 0)
				goto fail;
			n = tape_new_node(t, PGAPI_TAPE_FALSE, i);
			i += 5;
			break;
		case 'n':
			if (len - i < 4 || memcmp(s + i, "null", 4) != 0)
				goto fail;
			n = tape_new_node(t, PGAPI_TAPE_NULL, i);
			i += 4;
			break;
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
				size_t		start = i;

				if (!pgapi_json_scan_number(s, len, &i, &flag))
					goto fail;
				n = tape_new_node(t, flag ? PGAPI_TAPE_INT : PGAPI_TAPE_DOUBLE, start);
			}
			break;
		default:
			goto fail;
	}
	/* a literal or a number: after_value accepts only a delimiter next */
	if (n == TAPE_NO_NODE)
		goto fail;
	t->nodes[n].len = (uint32) (i - t->nodes[n].start);

after_value:
	if (depth == 0)
	{
		while (i < len && TAPE_IS_WS(s[i]))
			i++;
		if (i != len)
			goto fail;			/* trailing data */
		return t;
	}
	n = stack[depth - 1];
	t->nodes[n].count++;
	while (i < len && TAPE_IS_WS(s[i]))
		i++;
	if (i >= len)
		goto fail;
	if (s[i] == ',')
	{
		i++;
		if (t->nodes[n].type == PGAPI_TAPE_OBJECT)
			goto key;
		goto value;
	}
	if (s[i] != (t->nodes[n].type == PGAPI_TAPE_OBJECT ? '}' : ']'))
		goto fail;
	i++;

close:
	/* the container on top of the stack ends just before s[i] */
	n = stack[--depth];
	t->nodes[n].len = (uint32) (i - t->nodes[n].start);
	t->nodes[n].next = t->nnodes;
	goto after_value;

key:
	while (i < len && TAPE_IS_WS(s[i]))
		i++;
	if (i >= len || s[i] != '"')
		goto fail;
	n = tape_new_node(t, PGAPI_TAPE_STRING, i);
	if (n == TAPE_NO_NODE)
		goto fail;
	if (!tape_scan_string(s, len, &i, &flag))
		goto fail;
	t->nodes[n].len = (uint32) (i - t->nodes[n].start);
	if (flag)
	{
		t->nodes[n].flags = PGAPI_TAPE_ESCAPED;
		t->escaped_keys = true;
	}
	while (i < len && TAPE_IS_WS(s[i]))
		i++;
	if (i >= len || s[i] != ':')
		goto fail;
	i++;
	goto value;

fail:
	pfree(t->nodes);
	pfree(t);
	return NULL;
}

/*
 * pgapi_tape_member
 *		The value node of member key (keylen bytes, compared with the raw
 *		key bytes: only for a tape without escaped_keys) of object node obj;
 *		the last one if the key repeats, as json-c keeps the last; 0 if
 *		absent or obj is not an object.
 */
uint32
pgapi_tape_member(const PgApiTape *t, uint32 obj, const char *key, size_t keylen)
{
	const PgApiTapeNode *o = &t->nodes[obj];
	uint32		found = 0;
	uint32		k = obj + 1;

	if (o->type != PGAPI_TAPE_OBJECT)
		return 0;
	for (uint32 m = 0; m < o->count; m++)
	{
		const PgApiTapeNode *kn = &t->nodes[k];

		if (kn->len - 2 == keylen &&
			memcmp(t->data + kn->start + 1, key, keylen) == 0)
			found = k + 1;
		k = t->nodes[k + 1].next;
	}
	return found;
}

/*
 * pgapi_tape_element
 *		Node of element i of array node arr; 0 if out of range or arr is not
 *		an array.
 */
uint32
pgapi_tape_element(const PgApiTape *t, uint32 arr, int64 i)
{
	uint32		e = arr + 1;

	if (t->nodes[arr].type != PGAPI_TAPE_ARRAY || i < 0 ||
		i >= (int64) t->nodes[arr].count)
		return 0;
	while (i-- > 0)
		e = t->nodes[e].next;
	return e;
}

/* UTF-8 of code point u (valid, not a surrogate) at p; bytes written */
static inline int
tape_utf8(unsigned int u, char *p)
{
	if (u < 0x80)
	{
		p[0] = (char) u;
		return 1;
	}
	if (u < 0x800)
	{
		p[0] = (char) (0xC0 | (u >> 6));
		p[1] = (char) (0x80 | (u & 0x3F));
		return 2;
	}
	if (u < 0x10000)
	{
		p[0] = (char) (0xE0 | (u >> 12));
		p[1] = (char) (0x80 | ((u >> 6) & 0x3F));
		p[2] = (char) (0x80 | (u & 0x3F));
		return 3;
	}
	p[0] = (char) (0xF0 | (u >> 18));
	p[1] = (char) (0x80 | ((u >> 12) & 0x3F));
	p[2] = (char) (0x80 | ((u >> 6) & 0x3F));
	p[3] = (char) (0x80 | (u & 0x3F));
	return 4;
}

/*
 * pgapi_tape_string
 *		The decoded contents of string node idx, palloc'd in
 *		CurrentMemoryContext and NUL-terminated; *len is its length, which
 *		exceeds strlen() when the string holds "\u0000".  The escapes were
 *		checked by pgapi_tape_parse.
 */
char *
pgapi_tape_string(const PgApiTape *t, uint32 idx, size_t *len)
{
	const PgApiTapeNode *n = &t->nodes[idx];
	const unsigned char *s = (const unsigned char *) t->data + n->start + 1;
	size_t		rawlen = n->len - 2;
	char	   *out = palloc(rawlen + 1);
	size_t		o = 0;

	if (!(n->flags & PGAPI_TAPE_ESCAPED))
	{
		memcpy(out, s, rawlen);
		out[rawlen] = '\0';
		*len = rawlen;
		return out;
	}
	for (size_t i = 0; i < rawlen;)
	{
		const unsigned char *bs = memchr(s + i, '\\', rawlen - i);
		size_t		run = bs ? (size_t) (bs - (s + i)) : rawlen - i;

		memcpy(out + o, s + i, run);
		o += run;
		i += run;
		if (i >= rawlen)
			break;
		switch (s[i + 1])
		{
			case 'b':
				out[o++] = '\b';
				break;
			case 'f':
				out[o++] = '\f';
				break;
			case 'n':
				out[o++] = '\n';
				break;
			case 'r':
				out[o++] = '\r';
				break;
			case 't':
				out[o++] = '\t';
				break;
			case 'u':
				{
					unsigned int u = (unsigned int) pgapi_json_u_escape(s, rawlen, i);

					if (u >= 0xD800 && u <= 0xDBFF)
					{
						unsigned int lo = (unsigned int) pgapi_json_u_escape(s, rawlen, i + 6);

						u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					}
					o += tape_utf8(u, out + o);
					i += 4;		/* and 2 below */
				}
				break;
			default:			/* '"', '\\', '/' */
				out[o++] = (char) s[i + 1];
				break;
		}
		i += 2;
	}
	out[o] = '\0';
	*len = o;
	return out;
}

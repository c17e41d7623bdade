/*-------------------------------------------------------------------------
 *
 * fuzz_headers.c
 *		  libFuzzer harness for src/headers.c: response header lines and the
 *		  retry wait they ask for.
 *
 * The input is split into lines after each '\n' (kept, as libcurl hands
 * them over); each line is fed to pgapi_headers_line() from a buffer of
 * exactly its length, not NUL-terminated.  Oracles, besides the
 * sanitizers:
 *
 * 1. After every line the fields equal those of a separate model of the
 *    rules (a status line clears them; Content-Type sets the media type
 *    and a prefix of at most 63 bytes; Retry-After and X-RateLimit-Reset
 *    keep a value shorter than 64 bytes, else count as absent; names in
 *    any case; blanks and CR/LF trimmed), and every field is
 *    NUL-terminated inside its array.
 * 2. pgapi_headers_retry_wait() at a fixed "now" is -1 or a finite number
 *    of ms >= 0 (an infinite or NaN wait would reach an error message and
 *    the retry arithmetic), and exactly seconds * 1000 for a Retry-After
 *    of at most nine digits.
 *
 * Lines of 100 KiB (RELIABILITY B13) are longer than the fuzzer's inputs,
 * so LLVMFuzzerInitialize() checks them once per run, with 10,000 header
 * lines: each header name with a 100 KiB value, a 100 KiB name, and a
 * 100 KiB line without a colon.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/test/fuzz/fuzz_headers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "pgapi_fdw.h"
#include "pgstub.h"

#define FUZZ_NOW	((time_t) 1767225600)	/* 2026-01-01 00:00:00 UTC */

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the model: what the fields must be, kept as bytes and lengths */
typedef struct Model
{
	PgApiContentType ctype;
	char		ctype_text[PGAPI_HEADER_VALUE_MAX];
	size_t		ctype_len;
	char		retry_after[PGAPI_HEADER_VALUE_MAX];
	size_t		retry_len;
	char		reset[PGAPI_HEADER_VALUE_MAX];
	size_t		reset_len;
} Model;

static bool
name_is(const char *p, size_t n, const char *name)
{
	if (n != strlen(name))
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char) p[i]) != name[i])
			return false;
	return true;
}

static void
model_line(Model *m, const char *line, size_t len)
{
	size_t		colon;
	const char *v;
	size_t		vlen;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
	{
		memset(m, 0, sizeof(*m));
		m->ctype = PGAPI_CT_NONE;
		return;
	}
	for (colon = 0; colon < len && line[colon] != ':'; colon++)
		;
	if (colon == len)
		return;
	v = line + colon + 1;
	vlen = len - colon - 1;
	while (vlen > 0 && strchr(" \t", *v) && *v != '\0')
		v++, vlen--;
	while (vlen > 0 && v[vlen - 1] != '\0' && strchr("\r\n \t", v[vlen - 1]))
		vlen--;

	if (name_is(line, colon, "content-type"))
	{
		size_t		mlen = 0;

		while (mlen < vlen && v[mlen] != ';')
			mlen++;
		while (mlen > 0 && (v[mlen - 1] == ' ' || v[mlen - 1] == '\t'))
			mlen--;
		if (mlen == 16 && pg_strncasecmp(v, "application/json", 16) == 0)
			m->ctype = PGAPI_CT_JSON;
		else if (mlen == 10 && pg_strncasecmp(v, "text/plain", 10) == 0)
			m->ctype = PGAPI_CT_TEXT;
		else
			m->ctype = PGAPI_CT_OTHER;
		m->ctype_len = Min(vlen, (size_t) PGAPI_HEADER_VALUE_MAX - 1);
		memcpy(m->ctype_text, v, m->ctype_len);
	}
	else if (name_is(line, colon, "retry-after"))
	{
		m->retry_len = vlen < PGAPI_HEADER_VALUE_MAX ? vlen : 0;
		memcpy(m->retry_after, v, m->retry_len);
	}
	else if (name_is(line, colon, "x-ratelimit-reset"))
	{
		m->reset_len = vlen < PGAPI_HEADER_VALUE_MAX ? vlen : 0;
		memcpy(m->reset, v, m->reset_len);
	}
}

static void
check_field(const char *what, const char *field, const char *want, size_t len)
{
	if (memchr(field, '\0', PGAPI_HEADER_VALUE_MAX) == NULL)
		fuzz_fail("%s: not NUL-terminated", what);
	if (memcmp(field, want, len) != 0 || field[len] != '\0')
		fuzz_fail("%s: \"%.63s\", expected \"%.*s\"", what, field, (int) len,
				  want);
}

static void
check_state(const PgApiRespHeaders *h, const Model *m)
{
	if (h->ctype != m->ctype)
		fuzz_fail("content type %d, expected %d", h->ctype, m->ctype);
	check_field("Content-Type text", h->ctype_text, m->ctype_text, m->ctype_len);
	check_field("Retry-After", h->retry_after, m->retry_after, m->retry_len);
	check_field("X-RateLimit-Reset", h->ratelimit_reset, m->reset, m->reset_len);
}

static void
check_wait(const PgApiRespHeaders *h)
{
	double		w = pgapi_headers_retry_wait(h, FUZZ_NOW);
	size_t		ralen = strlen(h->retry_after);

	if (isnan(w) || isinf(w) || (w < 0 && w != -1))
		fuzz_fail("retry wait %g for Retry-After \"%s\", X-RateLimit-Reset \"%s\"",
				  w, h->retry_after, h->ratelimit_reset);
	if (ralen > 0 && ralen <= 9 &&
		strspn(h->retry_after, "0123456789") == ralen &&
		w != atoi(h->retry_after) * 1000.0)
		fuzz_fail("retry wait %g for Retry-After \"%s\"", w, h->retry_after);
}

/* feed one line from an exact-size copy, then check against the model */
static void
feed(PgApiRespHeaders *h, Model *m, const char *line, size_t len)
{
	char	   *copy = malloc(len ? len : 1);

	memcpy(copy, line, len);
	pgapi_headers_line(h, copy, len);
	free(copy);
	model_line(m, line, len);
	check_state(h, m);
}

static void
fresh(PgApiRespHeaders *h, Model *m)
{
	memset(h, 0x7f, sizeof(*h));	/* garbage, as in a reused state */
	pgapi_headers_reset(h);
	memset(m, 0, sizeof(*m));
	m->ctype = PGAPI_CT_NONE;
	check_state(h, m);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const names[] = {
		"Content-Type", "Retry-After", "X-RateLimit-Reset", "X-Long"
	};
	size_t		big = 100 * 1024;
	char	   *line = malloc(big + 64);
	PgApiRespHeaders h;
	Model		m;

	fuzz_begin();
	fresh(&h, &m);
	for (int n = 0; n < lengthof(names); n++)
	{
		int			l = snprintf(line, 64, "%s: ", names[n]);

		memset(line + l, n == 0 ? 'a' : '9', big - l - 2);
		memcpy(line + big - 2, "\r\n", 2);
		feed(&h, &m, line, big);
		check_wait(&h);
	}
	memset(line, 'N', big);
	memcpy(line + big - 4, ": 1\n", 4);
	feed(&h, &m, line, big);	/* a 100 KiB name */
	memset(line, 'x', big);
	feed(&h, &m, line, big);	/* no colon at all */
	for (int i = 0; i < 10000; i++)
	{
		int			l = snprintf(line, 64, "%s: %d\r\n", names[i % 4], i);

		feed(&h, &m, line, l);
	}
	check_wait(&h);
	free(line);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data;
	const char *end = p + size;
	PgApiRespHeaders h;
	Model		m;

	fuzz_begin();
	fresh(&h, &m);
	while (p < end)
	{
		const char *nl = memchr(p, '\n', end - p);
		size_t		len = nl ? (size_t) (nl - p + 1) : (size_t) (end - p);

		feed(&h, &m, p, len);
		check_wait(&h);
		p += len;
	}
	return 0;
}

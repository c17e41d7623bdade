/*
 * fuzz_prometheus.c -- libFuzzer harness for the Prometheus text parser
 * (src/prometheus.c: pgapi_prometheus_to_json), linked standalone.
 *
 * The parser is compiled unchanged; this file supplies the few backend
 * functions it calls: palloc and StringInfo map to malloc (everything is
 * freed after each input), ereport(ERROR) ends in errfinish, which
 * longjmps back here, and the JSON builder records nothing.  Oracle: no
 * crash and no AddressSanitizer report; an ERROR is a normal outcome.
 *
 * Build and run: src/test/fuzz/run.sh (clang -fsanitize=fuzzer,address).
 */
#include "postgres.h"

#include <setjmp.h>
#include <stdarg.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "pgapi_fdw.h"

static sigjmp_buf fuzz_jmp;

/* every allocation of one input, freed afterwards */
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

void *
palloc(Size size)
{
	return track(malloc(size ? size : 1));
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

/* StringInfo: buffers are realloc'd, so tracked by the StringInfo itself */
static void
enlarge(StringInfo str, int needed)
{
	int			newlen;
	char	   *old = str->data;

	if (str->len + needed + 1 <= str->maxlen)
		return;
	newlen = str->maxlen * 2;
	while (str->len + needed + 1 > newlen)
		newlen *= 2;
	str->data = palloc(newlen);
	memcpy(str->data, old, str->len + 1);
	str->maxlen = newlen;
}

void
initStringInfo(StringInfo str)
{
	str->maxlen = 64;
	str->data = palloc(64);
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
appendBinaryStringInfo(StringInfo str, const char *data, int datalen)
{
	enlarge(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, strlen(s));
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	appendBinaryStringInfo(str, &ch, 1);
}

void
appendStringInfo(StringInfo str, const char *fmt,...)
{
	char		tmp[1024];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int) sizeof(tmp))
		abort();				/* the parser only formats short things */
	appendBinaryStringInfo(str, tmp, n);
}

/* ereport */
bool
errstart_cold(int elevel, const char *domain)
{
	return true;
}

bool
errstart(int elevel, const char *domain)
{
	return true;
}

int
errcode(int sqlerrcode)
{
	return 0;
}

int
errmsg(const char *fmt,...)
{
	return 0;
}

int
errdetail(const char *fmt,...)
{
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	siglongjmp(fuzz_jmp, 1);
}

/* encodings: the database is UTF-8 */
int
GetDatabaseEncoding(void)
{
	return PG_UTF8;
}

char *
pg_any_to_server(const char *s, int len, int encoding)
{
	return (char *) s;
}

bool
pg_verify_mbstr(int encoding, const char *mbstr, int len, bool noError)
{
	return pg_encoding_verifymbstr(PG_UTF8, mbstr, len) == len;
}

/* the JSON builder: accept and discard */
static PgApiJsonBuilder *
dummy_builder(void)
{
	return (PgApiJsonBuilder *) palloc(16);
}

PgApiJsonBuilder *
pgapi_jb_object(void)
{
	return dummy_builder();
}

PgApiJsonBuilder *
pgapi_jb_array(void)
{
	return dummy_builder();
}

void
pgapi_jb_add_string(PgApiJsonBuilder *b, const char *key, const char *value)
{
	/* touch every byte, so ASan sees reads past the end */
	volatile size_t n = (key ? strlen(key) : 0) + (value ? strlen(value) : 0);

	(void) n;
}

void
pgapi_jb_add_builder(PgApiJsonBuilder *b, const char *key, PgApiJsonBuilder *child)
{
}

char *
pgapi_jb_finish(PgApiJsonBuilder *b, size_t *len)
{
	*len = 2;
	return pstrdup("{}");
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan catches reads past the end */
	char	   *copy = malloc(size ? size : 1);
	size_t		json_len;

	memcpy(copy, data, size);
	if (sigsetjmp(fuzz_jmp, 0) == 0)
		(void) pgapi_prometheus_to_json(copy, size, &json_len);
	free_all();
	free(copy);
	return 0;
}

/*-------------------------------------------------------------------------
 *
 * pgstub.c
 *		  Memory contexts, ereport and encodings for the libFuzzer harnesses.
 *
 * The extension's files under test (json.c, prometheus.c, rfc3339.c,
 * headers.c) are compiled unchanged and linked with PostgreSQL's frontend
 * libraries (libpgcommon.a: psprintf, StringInfo, the UTF-8 verifier,
 * the JSON parser; libpgport.a: snprintf, pg_strncasecmp).  This file and
 * pgtypes.c stand in for the backend functions they call.  What each
 * stand-in does, and where it differs from the backend:
 *
 * Memory.  A context is a list of malloc'd chunks, each allocated at its
 * exact size so that AddressSanitizer sees any read or write past its end;
 * pfree and repalloc free the old chunk (repalloc always moves), so a stale
 * pointer is a use-after-free report.  Resetting a context runs its reset
 * callbacks newest first, then frees every chunk, as MemoryContextReset
 * does.  Requests over MaxAllocSize are an elog(ERROR), i.e. XX000, as in
 * the backend.  There are no child contexts (the code under test makes
 * none).
 *
 * Errors.  ereport/elog keep the elevel, the errcode and the formatted
 * message (pg_vsnprintf, so every argument is read) on a five-entry stack
 * like the backend's; errfinish() at ERROR runs the error context callbacks
 * and siglongjmps to PG_exception_stack, so PG_TRY/PG_CATCH behave as in
 * the backend.  THE ORACLE: errfinish() calls abort() instead when the
 * ERROR's SQLSTATE is XX000 (ERRCODE_INTERNAL_ERROR, which is also what an
 * ERROR without errcode() gets), for FATAL and PANIC, for an ERROR outside
 * PG_TRY, and when the error stack overflows.  Levels below ERROR are
 * formatted and dropped.
 *
 * Encodings.  GetDatabaseEncoding() returns fuzz_encoding, which the
 * harness sets to PG_UTF8, PG_LATIN1 or PG_SQL_ASCII.  pg_verify_mbstr is
 * PostgreSQL's verifier (libpgcommon) with the backend's 22021 report.
 * pg_any_to_server and pg_server_to_any follow the backend's logic (no
 * conversion, verification only, or a conversion) and convert between
 * UTF-8 and LATIN1 as utf8_and_iso8859_1.c does (22021 for invalid input,
 * 22P05 for a character LATIN1 lacks); other encoding pairs are not
 * needed.  pg_mbcliplen is the backend's algorithm.
 *
 * Stack depth.  check_stack_depth() measures from the address fuzz_begin()
 * recorded and raises 54001 beyond 2 MB, the default max_stack_depth.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/test/fuzz/pgstub.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>
#include <stdarg.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/memnodes.h"
#include "utils/memutils.h"

#include "pgstub.h"

/* ----------------------------------------------------------------
 *		Globals the backend defines
 * ----------------------------------------------------------------
 */

MemoryContext CurrentMemoryContext = NULL;
sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;

int			fuzz_encoding = PG_UTF8;
int			fuzz_sqlstate = 0;
char		fuzz_errmsg[1024];
long		fuzz_errors_caught = 0;

/* ----------------------------------------------------------------
 *		Failing
 * ----------------------------------------------------------------
 */

const char *
fuzz_sqlstate_text(int sqlstate)
{
	static char buf[6];

	for (int i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(sqlstate);
		sqlstate >>= 6;
	}
	buf[5] = '\0';
	return buf;
}

void
fuzz_fail(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "\n==pgapi-fuzz== ORACLE FAILURE: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

/* ----------------------------------------------------------------
 *		Memory contexts
 * ----------------------------------------------------------------
 */

#define FUZZ_CHUNK_MAGIC	UINT64CONST(0x70676170695f6675)

typedef struct FuzzContext FuzzContext;

/* 48 bytes, so the user part stays MAXALIGNed after malloc's 16 */
typedef struct FuzzChunk
{
	struct FuzzChunk *prev;
	struct FuzzChunk *next;
	FuzzContext *cxt;
	Size		size;
	uint64		magic;
	uint64		pad;
} FuzzChunk;

struct FuzzContext
{
	MemoryContextData hdr;		/* first: a MemoryContext points here */
	FuzzChunk	head;			/* circular list of live chunks */
	size_t		nchunks;
};

#define CHUNK_OF(p)	((FuzzChunk *) ((char *) (p) - sizeof(FuzzChunk)))

MemoryContext
fuzz_context_create(const char *name)
{
	FuzzContext *c = calloc(1, sizeof(FuzzContext));

	if (c == NULL)
		fuzz_fail("out of memory creating a context");
	c->hdr.type = T_AllocSetContext;
	c->hdr.name = name;
	c->head.prev = c->head.next = &c->head;
	return (MemoryContext) c;
}

size_t
fuzz_context_chunks(MemoryContext cxt)
{
	return ((FuzzContext *) cxt)->nchunks;
}

void
fuzz_context_reset(MemoryContext context)
{
	FuzzContext *c = (FuzzContext *) context;
	MemoryContextCallback *cb;

	/* as MemoryContextCallResetCallbacks: newest first, each popped */
	while ((cb = c->hdr.reset_cbs) != NULL)
	{
		c->hdr.reset_cbs = cb->next;
		cb->func(cb->arg);
	}
	while (c->head.next != &c->head)
	{
		FuzzChunk  *k = c->head.next;

		c->head.next = k->next;
		k->magic = 0;
		free(k);
	}
	c->head.prev = &c->head;
	c->nchunks = 0;
	c->hdr.isReset = true;
}

void
MemoryContextRegisterResetCallback(MemoryContext context,
								   MemoryContextCallback *cb)
{
	cb->next = context->reset_cbs;
	context->reset_cbs = cb;
	context->isReset = false;
}

static void *
chunk_alloc(MemoryContext context, Size size, int flags)
{
	FuzzContext *c = (FuzzContext *) context;
	FuzzChunk  *k;

	if (c == NULL)
		fuzz_fail("palloc without CurrentMemoryContext");
	if (((flags & MCXT_ALLOC_HUGE) != 0 && !AllocHugeSizeIsValid(size)) ||
		((flags & MCXT_ALLOC_HUGE) == 0 && !AllocSizeIsValid(size)))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	k = malloc(sizeof(FuzzChunk) + size);
	if (k == NULL)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu.", size)));
	}
	k->cxt = c;
	k->size = size;
	k->magic = FUZZ_CHUNK_MAGIC;
	k->next = &c->head;
	k->prev = c->head.prev;
	c->head.prev->next = k;
	c->head.prev = k;
	c->nchunks++;
	c->hdr.isReset = false;
	if (flags & MCXT_ALLOC_ZERO)
		memset(k + 1, 0, size);
	return k + 1;
}

static FuzzChunk *
chunk_check(void *pointer, const char *what)
{
	FuzzChunk  *k = CHUNK_OF(pointer);

	if (pointer == NULL || k->magic != FUZZ_CHUNK_MAGIC)
		fuzz_fail("%s of a pointer that is not a live palloc chunk", what);
	return k;
}

void
pfree(void *pointer)
{
	FuzzChunk  *k = chunk_check(pointer, "pfree");

	k->prev->next = k->next;
	k->next->prev = k->prev;
	k->cxt->nchunks--;
	k->magic = 0;
	free(k);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, 0);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return chunk_alloc(context, size, flags);
}

void *
palloc(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, 0);
}

void *
palloc0(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, MCXT_ALLOC_ZERO);
}

void *
palloc_extended(Size size, int flags)
{
	return chunk_alloc(CurrentMemoryContext, size, flags);
}

void *
repalloc(void *pointer, Size size)
{
	FuzzChunk  *k = chunk_check(pointer, "repalloc");
	void	   *n = chunk_alloc((MemoryContext) k->cxt, size, 0);

	memcpy(n, pointer, Min(size, k->size));
	pfree(pointer);
	return n;
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	size_t		len = strlen(string) + 1;
	char	   *n = chunk_alloc(context, len, 0);

	memcpy(n, string, len);
	return n;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
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

/* ----------------------------------------------------------------
 *		ereport and elog
 * ----------------------------------------------------------------
 */

#define FUZZ_ERRORDATA_STACK_SIZE 5

typedef struct FuzzErrorData
{
	int			elevel;
	int			sqlerrcode;		/* 0: errcode() was not called */
	char		message[1024];
	char		detail[1024];
} FuzzErrorData;

static FuzzErrorData errordata[FUZZ_ERRORDATA_STACK_SIZE];
static int	errordata_depth = -1;

static char *stack_base = NULL;

void
fuzz_begin(void)
{
	char		local;

	stack_base = &local;
	errordata_depth = -1;
	fuzz_sqlstate = 0;
	fuzz_errmsg[0] = '\0';
	PG_exception_stack = NULL;
	error_context_stack = NULL;
}

void
fuzz_caught(void)
{
	/* as FlushErrorState */
	errordata_depth = -1;
	fuzz_errors_caught++;
}

bool
errstart(int elevel, const char *domain)
{
	FuzzErrorData *e;

	if (++errordata_depth >= FUZZ_ERRORDATA_STACK_SIZE)
		fuzz_fail("ERRORDATA_STACK_SIZE exceeded (an ERROR while building an ERROR, %d deep)",
				  errordata_depth);
	e = &errordata[errordata_depth];
	e->elevel = elevel;
	e->sqlerrcode = 0;
	e->message[0] = '\0';
	e->detail[0] = '\0';
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

static FuzzErrorData *
current_error(const char *what)
{
	if (errordata_depth < 0)
		fuzz_fail("%s called outside ereport", what);
	return &errordata[errordata_depth];
}

int
errcode(int sqlerrcode)
{
	current_error("errcode")->sqlerrcode = sqlerrcode;
	return 0;
}

#define FORMAT_INTO(buf, fmt) \
	do { \
		va_list		ap_; \
		va_start(ap_, fmt); \
		pg_vsnprintf((buf), sizeof(buf), (fmt), ap_); \
		va_end(ap_); \
	} while (0)

int
errmsg(const char *fmt,...)
{
	FORMAT_INTO(current_error("errmsg")->message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	FORMAT_INTO(current_error("errmsg_internal")->message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	FORMAT_INTO(current_error("errdetail")->detail, fmt);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	FORMAT_INTO(current_error("errdetail_internal")->detail, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	char		buf[1024];

	(void) current_error("errhint");
	FORMAT_INTO(buf, fmt);
	return 0;
}

int
set_errcontext_domain(const char *domain)
{
	return 0;
}

int
errcontext_msg(const char *fmt,...)
{
	char		buf[1024];

	(void) current_error("errcontext");
	FORMAT_INTO(buf, fmt);
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	FuzzErrorData *e = current_error("errfinish");
	int			code;

	if (e->elevel < ERROR)
	{
		errordata_depth--;
		return;
	}

	/* as the backend: the context callbacks add their lines */
	for (ErrorContextCallback *c = error_context_stack; c; c = c->previous)
		c->callback(c->arg);

	code = e->sqlerrcode != 0 ? e->sqlerrcode : ERRCODE_INTERNAL_ERROR;
	if (e->elevel > ERROR)
		fuzz_fail("elevel %d (FATAL or PANIC) at %s:%d (%s): %s",
				  e->elevel, filename, lineno, funcname, e->message);
	if (code == ERRCODE_INTERNAL_ERROR)
		fuzz_fail("ERROR with SQLSTATE XX000%s at %s:%d (%s): %s%s%s",
				  e->sqlerrcode ? "" : " (no errcode)",
				  filename, lineno, funcname, e->message,
				  e->detail[0] ? " DETAIL: " : "", e->detail);
	if (PG_exception_stack == NULL)
		fuzz_fail("ERROR outside PG_TRY at %s:%d: %s", filename, lineno,
				  e->message);
	fuzz_sqlstate = code;
	strlcpy(fuzz_errmsg, e->message, 1024);
	siglongjmp(*PG_exception_stack, 1);
}

void
pg_re_throw(void)
{
	if (PG_exception_stack == NULL)
		fuzz_fail("PG_RE_THROW outside PG_TRY");
	siglongjmp(*PG_exception_stack, 1);
}

void
check_stack_depth(void)
{
	char		local;
	ptrdiff_t	depth = stack_base ? stack_base - &local : 0;

	if (depth < 0)
		depth = -depth;
	if (depth > 2 * 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("stack depth limit exceeded")));
}

/* ----------------------------------------------------------------
 *		Encodings
 * ----------------------------------------------------------------
 */

int
GetDatabaseEncoding(void)
{
	return fuzz_encoding;
}

int
pg_database_encoding_max_length(void)
{
	return pg_encoding_max_length(fuzz_encoding);
}

int
pg_mblen(const char *mbstr)
{
	return pg_encoding_mblen(fuzz_encoding, mbstr);
}

void
report_invalid_encoding(int encoding, const char *mbstr, int len)
{
	int			l = pg_encoding_mblen(encoding, mbstr);
	char		buf[8 * 5 + 1];
	char	   *p = buf;
	int			jlimit = Min(Min(l, len), 8);

	buf[0] = '\0';
	for (int j = 0; j < jlimit; j++)
	{
		p += sprintf(p, "0x%02x", (unsigned char) mbstr[j]);
		if (j < jlimit - 1)
			p += sprintf(p, " ");
	}
	ereport(ERROR,
			(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
			 errmsg("invalid byte sequence for encoding \"%s\": %s",
					pg_enc2name_tbl[encoding].name, buf)));
}

void
report_untranslatable_char(int src_encoding, int dest_encoding,
						   const char *mbstr, int len)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
			 errmsg("character with byte sequence 0x%02x has no equivalent in encoding \"%s\"",
					(unsigned char) mbstr[0],
					pg_enc2name_tbl[dest_encoding].name)));
}

bool
pg_verify_mbstr(int encoding, const char *mbstr, int len, bool noError)
{
	int			oklen = pg_encoding_verifymbstr(encoding, mbstr, len);

	if (oklen != len)
	{
		if (noError)
			return false;
		report_invalid_encoding(encoding, mbstr + oklen, len - oklen);
	}
	return true;
}

/* utf8_and_iso8859_1.c, utf8_to_iso8859_1 */
static char *
utf8_to_latin1(const unsigned char *src, int len)
{
	unsigned char *out = palloc((Size) len * 4 + 1);
	unsigned char *dest = out;

	while (len > 0)
	{
		unsigned short c = *src;

		if (c == 0)
			report_invalid_encoding(PG_UTF8, (const char *) src, len);
		if (!IS_HIGHBIT_SET(c))
		{
			*dest++ = c;
			src++;
			len--;
		}
		else
		{
			int			l = pg_utf_mblen(src);

			if (l > len || !pg_utf8_islegal(src, l))
				report_invalid_encoding(PG_UTF8, (const char *) src, len);
			if (l != 2)
				report_untranslatable_char(PG_UTF8, PG_LATIN1,
										   (const char *) src, len);
			c = ((c & 0x1f) << 6) | (src[1] & 0x3f);
			if (c >= 0x80 && c <= 0xff)
			{
				*dest++ = c;
				src += 2;
				len -= 2;
			}
			else
				report_untranslatable_char(PG_UTF8, PG_LATIN1,
										   (const char *) src, len);
		}
	}
	*dest = '\0';
	return (char *) out;
}

/* utf8_and_iso8859_1.c, iso8859_1_to_utf8 */
static char *
latin1_to_utf8(const unsigned char *src, int len)
{
	unsigned char *out = palloc((Size) len * 4 + 1);
	unsigned char *dest = out;

	while (len > 0)
	{
		unsigned short c = *src;

		if (c == 0)
			report_invalid_encoding(PG_LATIN1, (const char *) src, len);
		if (!IS_HIGHBIT_SET(c))
			*dest++ = c;
		else
		{
			*dest++ = (c >> 6) | 0xc0;
			*dest++ = (c & 0x003f) | HIGHBIT;
		}
		src++;
		len--;
	}
	*dest = '\0';
	return (char *) out;
}

static char *
convert(const char *s, int len, int from, int to)
{
	if (from == PG_UTF8 && to == PG_LATIN1)
		return utf8_to_latin1((const unsigned char *) s, len);
	if (from == PG_LATIN1 && to == PG_UTF8)
		return latin1_to_utf8((const unsigned char *) s, len);
	fuzz_fail("no stand-in conversion from encoding %d to %d", from, to);
}

char *
pg_any_to_server(const char *s, int len, int encoding)
{
	if (len <= 0)
		return unconstify(char *, s);
	if (encoding == fuzz_encoding || encoding == PG_SQL_ASCII)
	{
		(void) pg_verify_mbstr(fuzz_encoding, s, len, false);
		return unconstify(char *, s);
	}
	if (fuzz_encoding == PG_SQL_ASCII)
	{
		(void) pg_verify_mbstr(encoding, s, len, false);
		return unconstify(char *, s);
	}
	return convert(s, len, encoding, fuzz_encoding);
}

char *
pg_server_to_any(const char *s, int len, int encoding)
{
	if (len <= 0)
		return unconstify(char *, s);
	if (encoding == fuzz_encoding || encoding == PG_SQL_ASCII)
		return unconstify(char *, s);
	if (fuzz_encoding == PG_SQL_ASCII)
	{
		(void) pg_verify_mbstr(encoding, s, len, false);
		return unconstify(char *, s);
	}
	return convert(s, len, fuzz_encoding, encoding);
}

/* mbutils.c: pg_mbcliplen, pg_encoding_mbcliplen, cliplen */
int
pg_mbcliplen(const char *mbstr, int len, int limit)
{
	int			clen = 0;
	int			l;

	if (pg_encoding_max_length(fuzz_encoding) == 1)
	{
		len = Min(len, limit);
		while (clen < len && mbstr[clen])
			clen++;
		return clen;
	}
	while (len > 0 && *mbstr)
	{
		l = pg_encoding_mblen(fuzz_encoding, mbstr);
		if ((clen + l) > limit)
			break;
		clen += l;
		if (clen == limit)
			break;
		len -= l;
		mbstr += l;
	}
	return clen;
}

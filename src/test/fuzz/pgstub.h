/*-------------------------------------------------------------------------
 *
 * pgstub.h
 *		  The backend the libFuzzer harnesses run on (pgstub.c, pgtypes.c).
 *
 * See pgstub.c for what the stand-ins do and how they differ from the
 * real backend.  A harness:
 *
 *		fuzz_begin();					(each input: stack base, error state)
 *		PG_TRY();
 *		{
 *			... code under test, in a context from fuzz_context_create() ...
 *		}
 *		PG_CATCH();
 *		{
 *			fuzz_caught();				(like FlushErrorState)
 *		}
 *		PG_END_TRY();
 *		fuzz_context_reset(cxt);		(runs reset callbacks, frees chunks)
 *
 * The oracle is enforced in errfinish(): an ERROR whose SQLSTATE is XX000
 * (internal error), or that has no errcode at all, a FATAL or PANIC, or an
 * ERROR outside PG_TRY prints the message and calls abort(), which
 * libFuzzer reports as a crash and saves the input.  Harnesses add their
 * own checks with fuzz_fail().
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/test/fuzz/pgstub.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSTUB_H
#define PGSTUB_H

#include "fmgr.h"
#include "utils/palloc.h"

/* Database encoding the stand-ins use: PG_UTF8, PG_LATIN1 or PG_SQL_ASCII */
extern int	fuzz_encoding;

/* SQLSTATE (MAKE_SQLSTATE form) and message of the last ERROR caught */
extern int	fuzz_sqlstate;
extern char fuzz_errmsg[];

/* ERRORs caught since the process started, for the run summary */
extern long fuzz_errors_caught;

extern void fuzz_begin(void);
extern void fuzz_caught(void);
extern void fuzz_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();
extern const char *fuzz_sqlstate_text(int sqlstate);

extern MemoryContext fuzz_context_create(const char *name);
extern void fuzz_context_reset(MemoryContext cxt);
extern size_t fuzz_context_chunks(MemoryContext cxt);

/* pgtypes.c: the stand-in type input functions, callable directly */
extern Datum fuzz_input(Oid typid, const char *str, int32 typmod);
extern const char *fuzz_type_name(Oid typid);

#endif							/* PGSTUB_H */

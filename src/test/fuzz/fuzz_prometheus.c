/*-------------------------------------------------------------------------
 *
 * fuzz_prometheus.c
 *		  libFuzzer harness for the Prometheus text parser (src/prometheus.c:
 *		  pgapi_prometheus_to_json), with the real JSON builder of json.c.
 *
 * The input is a response body, NUL-terminated after its length as http.c
 * hands it over.  Its JSON text then goes through pgapi_json_parse(), as
 * parse_response() in scan.c does, which must succeed: the builder made
 * it.  The result must be {"result": [...]} with a string "metric" and a
 * string "value" in every row.  Oracles: the ERRORs allowed are HV00M
 * (malformed text) and, in a LATIN1 database, 22P05 (a label character
 * LATIN1 lacks); never XX000 (pgstub.c); no sanitizer report.  Each input
 * runs in a UTF-8 and in a LATIN1 database.  See pgstub.c for the stand-in
 * backend.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/test/fuzz/fuzz_prometheus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "pgapi_fdw.h"
#include "pgstub.h"

static MemoryContext page_cxt;

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	page_cxt = fuzz_context_create("page");
	return 0;
}

static void
check_rows(const char *json, size_t len)
{
	PgApiJsonDoc *volatile doc = NULL;
	PgApiJsonValue rows;

	PG_TRY();
	{
		doc = pgapi_json_parse(json, len);
	}
	PG_CATCH();
	{
		fuzz_fail("the Prometheus JSON does not parse (%s %s): %.300s",
				  fuzz_sqlstate_text(fuzz_sqlstate), fuzz_errmsg, json);
	}
	PG_END_TRY();
	rows = pgapi_json_get(pgapi_json_root(doc), "result");
	if (pgapi_json_type(rows) != PGAPI_JSON_ARRAY)
		fuzz_fail("the Prometheus JSON has no result array: %.300s", json);
	for (int i = 0; i < pgapi_json_array_length(rows); i++)
	{
		PgApiJsonValue row = pgapi_json_array_get(rows, i);

		if (pgapi_json_type(pgapi_json_get(row, "metric")) != PGAPI_JSON_STRING ||
			pgapi_json_type(pgapi_json_get(row, "value")) != PGAPI_JSON_STRING ||
			pgapi_json_type(pgapi_json_get(row, "labels")) != PGAPI_JSON_OBJECT)
			fuzz_fail("row %d lacks metric, value or labels: %.300s", i, json);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *body = malloc(size + 1);
	static const int encs[] = {PG_UTF8, PG_LATIN1};

	memcpy(body, data, size);
	body[size] = '\0';
	fuzz_begin();
	MemoryContextSwitchTo(page_cxt);
	for (int e = 0; e < lengthof(encs); e++)
	{
		fuzz_encoding = encs[e];
		PG_TRY();
		{
			size_t		json_len;
			char	   *json = pgapi_prometheus_to_json(body, size, &json_len);

			if (strlen(json) != json_len)
				fuzz_fail("JSON of %zu bytes, strlen %zu", json_len,
						  strlen(json));
			check_rows(json, json_len);
		}
		PG_CATCH();
		{
			if (fuzz_sqlstate != ERRCODE_FDW_UNABLE_TO_CREATE_REPLY &&
				!(fuzz_encoding == PG_LATIN1 &&
				  fuzz_sqlstate == ERRCODE_UNTRANSLATABLE_CHARACTER))
				fuzz_fail("pgapi_prometheus_to_json raised %s: %s",
						  fuzz_sqlstate_text(fuzz_sqlstate), fuzz_errmsg);
			fuzz_caught();
		}
		PG_END_TRY();
		fuzz_context_reset(page_cxt);
	}
	fuzz_encoding = PG_UTF8;
	free(body);
	return 0;
}

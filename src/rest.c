/*-------------------------------------------------------------------------
 *
 * rest.c
 *		  The ClickHouse Cloud response envelope.
 *
 * Every ClickHouse Cloud response is {"status", "requestId", "result"} or,
 * for errors, {"status", "error", "requestId"}.  The HTTP status is not the
 * whole truth: an error envelope can come with HTTP 200 (RELIABILITY B8),
 * and a 200 without "result" is no answer.  Scans and writes check the
 * envelope with the one function here, so that both treat it alike.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/rest.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "pgapi_fdw.h"

/* errcontext of the request whose envelope is checked */
static void
envelope_error_callback(void *arg)
{
	PgApiRequest *req = (PgApiRequest *) arg;

	errcontext("remote request: %s %s", pgapi_method_name(req->method),
			   req->label ? req->label : req->path);
}

/*
 * pgapi_rest_result
 *		The "result" of a ClickHouse Cloud response after checking its
 *		envelope (RELIABILITY B8).  A body "status" of 400 or more, or an
 *		"error" member, is an ERROR whatever the HTTP status was:
 *		- for a read (an idempotent request): HV000;
 *		- for a write: 40003 when the body's status is 5xx or missing, since
 *		  the change may or may not have been applied (as http.c treats an
 *		  HTTP 5xx answer to a write); 55000 for 409 and HV000 for other 4xx
 *		  (refused).  Writes are never retried (N6), here neither.
 *		The API's text goes to DETAIL redacted, escaped and bounded
 *		(pgapi_http_error_detail).  A body that is not an object, or has no
 *		"result" (or a null one) is HV00M unless optional, then NULL is
 *		returned.  The type of "result" is the caller's to check.
 */
PgApiJsonValue
pgapi_rest_result(PgApiRequest *req, PgApiJsonDoc *doc, bool optional)
{
	ErrorContextCallback errcallback;
	PgApiJsonValue root = pgapi_json_root(doc);
	PgApiJsonValue status;
	PgApiJsonValue result;
	long		body_status = -1;
	bool		write = !req->idempotent;

	errcallback.callback = envelope_error_callback;
	errcallback.arg = req;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (pgapi_json_type(root) != PGAPI_JSON_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("unexpected response from the ClickHouse Cloud API"),
				 write ?
				 errdetail("The response is not a JSON object; the change was probably applied.") :
				 errdetail("The response is not a JSON object.")));

	status = pgapi_json_get(root, "status");
	if (pgapi_json_type(status) == PGAPI_JSON_INT)
		body_status = strtol(pgapi_json_scalar_text(status), NULL, 10);

	if (pgapi_json_get(root, "error") != NULL || body_status >= 400)
	{
		char	   *detail = pgapi_http_error_detail(req);

		if (write && (body_status < 400 || body_status >= 500))
		{
			char	   *full = psprintf("The API answered with HTTP status %ld but reported an error in the body, so the change may or may not have been applied. %s",
										req->status, detail);
			int			len = strlen(full);

			/* at most 1 KiB, as every DETAIL with API text (B12) */
			if (len > 1024)
			{
				len = pg_mbcliplen(full, len, 1021);
				strcpy(full + len, "...");
			}
			ereport(ERROR,
					(errcode(ERRCODE_T_R_STATEMENT_COMPLETION_UNKNOWN),
					 errmsg("outcome of the request to the ClickHouse Cloud API is unknown"),
					 errdetail_internal("%s", full),
					 errhint("Check the state of the remote object before repeating the change.")));
		}
		ereport(ERROR,
				(errcode(write && body_status == 409 ?
						 ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE :
						 ERRCODE_FDW_ERROR),
				 errmsg("ClickHouse Cloud API reported an error in a successful response"),
				 errdetail_internal("%s", detail)));
	}

	result = pgapi_json_get(root, "result");
	if (result == NULL && !optional)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("unexpected response from the ClickHouse Cloud API"),
				 write ?
				 errdetail("The response has no \"result\"; the change was probably applied.") :
				 errdetail("The response has no \"result\".")));

	error_context_stack = errcallback.previous;
	return result;
}

/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Option table, validator and typed option structs of pgapi_fdw.
 *
 * Every option of every object is one row of pgapi_options[].  The
 * validator checks names (with a closest-match hint), values and
 * privileges at CREATE/ALTER time; the rest of the extension reads
 * options only through the typed structs filled here.
 *
 * Secrets (key_id, key_secret, api_key) are accepted on user mappings only
 * and are read at execution time only (RELIABILITY C1, C4); errors about
 * them hide the statement text (C14).
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include <curl/curl.h>

#include "pgapi_fdw.h"

/* Option kinds, for value checks. */
typedef enum PgApiOptKind
{
	OPT_API,
	OPT_URL,
	OPT_PATH,
	OPT_ORG,
	OPT_INT,
	OPT_INTERVAL,
	OPT_SECRET,
	OPT_RESOURCE,
	OPT_BOOL,
	OPT_FIELD
} PgApiOptKind;

typedef struct PgApiOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	PgApiOptKind kind;
	bool		superuser_only; /* C6 */
	int64		min;			/* OPT_INT bounds */
	int64		max;
} PgApiOption;

/* Must stay in step with PgApiServerOptions and pgapi_get_server_options. */
static const PgApiOption pgapi_options[] = {
	{"api", ForeignServerRelationId, OPT_API, false, 0, 0},
	{"url", ForeignServerRelationId, OPT_URL, true, 0, 0},
	{"ca_file", ForeignServerRelationId, OPT_PATH, true, 0, 0},
	{"organization_id", ForeignServerRelationId, OPT_ORG, false, 0, 0},
	{"timeout_ms", ForeignServerRelationId, OPT_INT, false, 1, 3600000},
	{"connect_timeout_ms", ForeignServerRelationId, OPT_INT, false, 1, 600000},
	{"max_retries", ForeignServerRelationId, OPT_INT, false, 0, 10},
	{"max_response_bytes", ForeignServerRelationId, OPT_INT, false, 1024,
	MaxAllocSize - 1},
	{"max_pages", ForeignServerRelationId, OPT_INT, false, 1, 1000000},
	{"page_size", ForeignServerRelationId, OPT_INT, false, 1, 500},
	{"max_concurrency", ForeignServerRelationId, OPT_INT, false, 1, 64},
	{"requests_per_window", ForeignServerRelationId, OPT_INT, false, 0,
	1000000},
	{"rate_window_ms", ForeignServerRelationId, OPT_INT, false, 1, 3600000},
	{"cache_ttl_ms", ForeignServerRelationId, OPT_INT, false, 0, 86400000},
	{"default_window", ForeignServerRelationId, OPT_INTERVAL, false, 0, 0},
	{"key_id", UserMappingRelationId, OPT_SECRET, false, 0, 0},
	{"key_secret", UserMappingRelationId, OPT_SECRET, false, 0, 0},
	{"api_key", UserMappingRelationId, OPT_SECRET, false, 0, 0},
	{"resource", ForeignTableRelationId, OPT_RESOURCE, false, 0, 0},
	{"updatable", ForeignTableRelationId, OPT_BOOL, false, 0, 0},
	{"field", AttributeRelationId, OPT_FIELD, false, 0, 0},
};

#define NUM_PGAPI_OPTIONS ((int) lengthof(pgapi_options))

PG_FUNCTION_INFO_V1(pgapi_fdw_validator);

static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignServerRelationId:
			return "server";
		case UserMappingRelationId:
			return "user mapping";
		case ForeignTableRelationId:
			return "foreign table";
		case AttributeRelationId:
			return "column";
		default:
			return "object";
	}
}

/*
 * pgapi_closest_match
 *		Return the candidate nearest to word by Levenshtein distance, or
 *		NULL when none is plausibly what was meant.
 */
const char *
pgapi_closest_match(const char *word, const char *const *candidates,
					int ncandidates)
{
	const char *best = NULL;
	int			best_dist = INT_MAX;
	int			wordlen = strlen(word);

	for (int i = 0; i < ncandidates; i++)
	{
		int			dist;

		dist = varstr_levenshtein(word, wordlen, candidates[i],
								  strlen(candidates[i]), 1, 1, 1, false);
		if (dist < best_dist)
		{
			best_dist = dist;
			best = candidates[i];
		}
	}

	/* plausible: at most half of the longer word differs */
	if (best != NULL &&
		best_dist > Max(2, (int) Max(wordlen, (int) strlen(best)) / 2))
		return NULL;
	return best;
}

/*
 * Parse a URL with libcurl's parser.  Returns false when it cannot be
 * parsed; scheme and host are malloc'd by curl and copied to palloc.
 */
static bool
parse_url(const char *url, char **scheme, char **host, bool *has_userinfo,
		  bool *has_query)
{
	CURLU	   *h = curl_url();
	char	   *part = NULL;
	bool		ok = false;

	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	*scheme = *host = NULL;
	*has_userinfo = *has_query = false;

	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto done;
	if (curl_url_get(h, CURLUPART_SCHEME, &part, 0) != CURLUE_OK)
		goto done;
	*scheme = pstrdup(part);
	curl_free(part);
	part = NULL;
	if (curl_url_get(h, CURLUPART_HOST, &part, 0) != CURLUE_OK)
		goto done;
	*host = pstrdup(part);
	curl_free(part);
	part = NULL;
	if (curl_url_get(h, CURLUPART_USER, &part, 0) == CURLUE_OK)
	{
		*has_userinfo = true;
		curl_free(part);
		part = NULL;
	}
	if (curl_url_get(h, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
		curl_url_get(h, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
	{
		*has_query = true;
		curl_free(part);
		part = NULL;
	}
	ok = true;

done:
	curl_url_cleanup(h);
	return ok;
}

static bool
host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char		buf[64];
	size_t		len = strlen(host);

	if (pg_strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	/* curl reports IPv6 hosts in brackets */
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(buf))
	{
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) == 1)
			return IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

/*
 * pgapi_is_loopback_url
 *		True when url parses and names a loopback host (127.0.0.0/8, ::1,
 *		localhost).  Plain http:// is allowed only for those.
 */
bool
pgapi_is_loopback_url(const char *url)
{
	char	   *scheme;
	char	   *host;
	bool		userinfo;
	bool		query;

	if (!parse_url(url, &scheme, &host, &userinfo, &query))
		return false;
	return host_is_loopback(host);
}

static void
check_url(const char *url)
{
	char	   *scheme;
	char	   *host;
	bool		userinfo;
	bool		query;

	if (!parse_url(url, &scheme, &host, &userinfo, &query))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("invalid value for option \"url\": \"%s\"", url),
				 errdetail("The value is not a valid URL.")));
	if (pg_strcasecmp(scheme, "https") != 0 &&
		!(pg_strcasecmp(scheme, "http") == 0 && host_is_loopback(host)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("invalid value for option \"url\": \"%s\"", url),
				 errdetail("Only https:// URLs are accepted; http:// is accepted for loopback hosts only."),
				 errhint("Use an https:// URL.")));
	if (userinfo)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("invalid value for option \"url\""),
				 errdetail("Credentials are not accepted in the URL."),
				 errhint("Put credentials in the user mapping options."),
				 errhidestmt(true)));
	if (query)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("invalid value for option \"url\": \"%s\"", url),
				 errdetail("The URL must not have a query string or fragment.")));
}

/*
 * A file the server reads (ca_file): an absolute path, so that it does not
 * depend on the server's working directory, without control characters.
 * Whether the file exists and holds certificates is found out at the first
 * request (an ERROR naming the problem then), since the server may read
 * paths the session cannot check.
 */
static void
check_path(const char *name, const char *value)
{
	if (!is_absolute_path(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("The value must be an absolute path.")));
	for (const char *p = value; *p; p++)
		if ((unsigned char) *p < 0x20 || (unsigned char) *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\"", name),
					 errdetail("The path contains a control character.")));
}

static int64
parse_int_option(const PgApiOption *opt, const char *value)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' ||
		v < opt->min || v > opt->max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						opt->name, value),
				 errdetail("Valid values are integers from " INT64_FORMAT " to " INT64_FORMAT ".",
						   (int64) opt->min, (int64) opt->max)));
	return (int64) v;
}

static int64
parse_interval_option(const char *name, const char *value)
{
	Interval   *iv;
	int64		ms;

	iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
											   CStringGetDatum(value),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
	/* months count as 30 days, as justify_days() does */
	ms = (iv->time / 1000) +
		((int64) iv->day + (int64) iv->month * DAYS_PER_MONTH) * (int64) SECS_PER_DAY * 1000;
	if (ms <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("The window must be a positive interval.")));
	return ms;
}

static void
check_identifier(const char *name, const char *value)
{
	if (*value == '\0')
		goto bad;
	for (const char *p = value; *p; p++)
		if (!isalnum((unsigned char) *p) && *p != '-' && *p != '_')
			goto bad;
	return;

bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
			 errdetail("Only letters, digits, \"-\" and \"_\" are allowed.")));
}

/*
 * Complain about an option that does not exist for this object, with the
 * closest valid name as a hint.  A secret on anything but a user mapping
 * gets its own message, and the statement is hidden from the log (C14).
 */
static void
report_bad_option(const char *name, Oid context)
{
	const char *cands[NUM_PGAPI_OPTIONS];
	int			ncands = 0;
	const char *closest;

	for (int i = 0; i < NUM_PGAPI_OPTIONS; i++)
	{
		if (strcmp(pgapi_options[i].name, name) == 0 &&
			pgapi_options[i].kind == OPT_SECRET)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" is only accepted on a user mapping",
							name),
					 errhint("Set credentials with CREATE USER MAPPING ... OPTIONS (%s '...').",
							 name),
					 errhidestmt(true)));
		if (pgapi_options[i].context == context)
			cands[ncands++] = pgapi_options[i].name;
	}

	closest = pgapi_closest_match(name, cands, ncands);
	if (closest == NULL)
	{
		StringInfoData list;

		initStringInfo(&list);
		for (int i = 0; i < ncands; i++)
			appendStringInfo(&list, "%s%s", i ? ", " : "", cands[i]);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\" for a %s of foreign data wrapper pgapi_fdw",
						name, context_name(context)),
				 errhint("Valid options in this context are: %s.", list.data),
				 errhidestmt(true)));
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\" for a %s of foreign data wrapper pgapi_fdw",
					name, context_name(context)),
			 errhint("Perhaps you meant the option \"%s\".", closest),
			 errhidestmt(true)));
}

static void
check_option_value(const PgApiOption *opt, DefElem *def)
{
	const char *value = defGetString(def);

	switch (opt->kind)
	{
		case OPT_API:
			if (strcmp(value, "clickhouse_cloud") != 0 &&
				strcmp(value, "pganalyze") != 0)
			{
				static const char *const apis[] = {"clickhouse_cloud", "pganalyze"};
				const char *closest = pgapi_closest_match(value, apis, 2);

				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"api\": \"%s\"", value),
						 errdetail("Valid values are \"clickhouse_cloud\" and \"pganalyze\"."),
						 closest ? errhint("Perhaps you meant \"%s\".", closest) : 0));
			}
			break;
		case OPT_URL:
			check_url(value);
			break;
		case OPT_PATH:
			check_path(opt->name, value);
			break;
		case OPT_ORG:
			check_identifier(opt->name, value);
			break;
		case OPT_INT:
			(void) parse_int_option(opt, value);
			break;
		case OPT_INTERVAL:
			(void) parse_interval_option(opt->name, value);
			break;
		case OPT_SECRET:
			if (*value == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must not be empty", opt->name),
						 errhidestmt(true)));
			for (const char *p = value; *p; p++)
				if ((unsigned char) *p < 0x20 || (unsigned char) *p == 0x7f)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"%s\" contains a control character",
									opt->name),
							 errdetail("Credentials are sent in HTTP headers, which cannot carry control characters."),
							 errhidestmt(true)));
			break;
		case OPT_RESOURCE:
			if (pgapi_find_resource(value) == NULL)
			{
				const char *cands[64];
				int			n = 0;
				const char *closest;

				for (int i = 0; i < pgapi_clickhouse_nresources && n < 64; i++)
					cands[n++] = pgapi_clickhouse_resources[i].name;
				for (int i = 0; i < pgapi_pganalyze_nresources && n < 64; i++)
					cands[n++] = pgapi_pganalyze_resources[i].name;
				closest = pgapi_closest_match(value, cands, n);
				ereport(ERROR,
						(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
						 errmsg("unknown resource \"%s\"", value),
						 closest ? errhint("Perhaps you meant the resource \"%s\".", closest) :
						 errhint("SELECT DISTINCT resource FROM pgapi_fdw_resources() lists the resources.")));
			}
			break;
		case OPT_BOOL:
			(void) defGetBoolean(def);
			break;
		case OPT_FIELD:
			if (*value == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"field\" must not be empty")));
			break;
	}
}

/*
 * pgapi_fdw_validator
 *		Validate the options of a CREATE/ALTER of a server, user mapping,
 *		foreign table or column.  For ALTER, PostgreSQL passes the complete
 *		resulting option list.
 */
Datum
pgapi_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	bool		have_api = false;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const PgApiOption *opt = NULL;

		for (int i = 0; i < NUM_PGAPI_OPTIONS; i++)
		{
			if (pgapi_options[i].context == catalog &&
				strcmp(pgapi_options[i].name, def->defname) == 0)
			{
				opt = &pgapi_options[i];
				break;
			}
		}
		if (opt == NULL)
			report_bad_option(def->defname, catalog);

		if (opt->superuser_only && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to set option \"%s\"", opt->name),
					 errdetail("Only superusers may set option \"%s\".", opt->name)));

		check_option_value(opt, def);
		if (opt->kind == OPT_API)
			have_api = true;
	}

	if (catalog == ForeignServerRelationId && !have_api)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"api\" is required for a pgapi_fdw server"),
				 errhint("Use OPTIONS (api 'clickhouse_cloud') or OPTIONS (api 'pganalyze').")));

	PG_RETURN_VOID();
}

static const PgApiOption *
option_by_name(const char *name)
{
	for (int i = 0; i < NUM_PGAPI_OPTIONS; i++)
		if (strcmp(pgapi_options[i].name, name) == 0)
			return &pgapi_options[i];
	elog(ERROR, "unrecognized pgapi_fdw option \"%s\"", name);
	return NULL;				/* keep compiler quiet */
}

/*
 * pgapi_get_server_options
 *		Fill opts from the server's catalog entry, with DESIGN.md defaults.
 *		Allocates strings in CurrentMemoryContext.
 */
void
pgapi_get_server_options(Oid serverid, PgApiServerOptions *opts)
{
	ForeignServer *server = GetForeignServer(serverid);
	ListCell   *lc;
	bool		rate_set = false;

	memset(opts, 0, sizeof(*opts));
	opts->serverid = serverid;
	opts->api = PGAPI_CLICKHOUSE;
	opts->timeout_ms = 30000;
	opts->connect_timeout_ms = 10000;
	opts->max_retries = 3;
	opts->max_response_bytes = 16 * 1024 * 1024;
	opts->max_pages = 1000;
	opts->page_size = 500;
	opts->max_concurrency = 4;
	opts->rate_window_ms = 10000;
	opts->cache_ttl_ms = 0;
	opts->default_window_ms = (int64) 24 * SECS_PER_HOUR * 1000;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *value = defGetString(def);
		const PgApiOption *opt = option_by_name(def->defname);

		if (strcmp(def->defname, "api") == 0)
			opts->api = strcmp(value, "pganalyze") == 0 ?
				PGAPI_PGANALYZE : PGAPI_CLICKHOUSE;
		else if (strcmp(def->defname, "url") == 0)
			opts->url = pstrdup(value);
		else if (strcmp(def->defname, "ca_file") == 0)
			opts->ca_file = pstrdup(value);
		else if (strcmp(def->defname, "organization_id") == 0)
			opts->organization_id = pstrdup(value);
		else if (strcmp(def->defname, "timeout_ms") == 0)
			opts->timeout_ms = parse_int_option(opt, value);
		else if (strcmp(def->defname, "connect_timeout_ms") == 0)
			opts->connect_timeout_ms = parse_int_option(opt, value);
		else if (strcmp(def->defname, "max_retries") == 0)
			opts->max_retries = parse_int_option(opt, value);
		else if (strcmp(def->defname, "max_response_bytes") == 0)
			opts->max_response_bytes = parse_int_option(opt, value);
		else if (strcmp(def->defname, "max_pages") == 0)
			opts->max_pages = parse_int_option(opt, value);
		else if (strcmp(def->defname, "page_size") == 0)
			opts->page_size = parse_int_option(opt, value);
		else if (strcmp(def->defname, "max_concurrency") == 0)
			opts->max_concurrency = parse_int_option(opt, value);
		else if (strcmp(def->defname, "requests_per_window") == 0)
		{
			opts->requests_per_window = parse_int_option(opt, value);
			rate_set = true;
		}
		else if (strcmp(def->defname, "rate_window_ms") == 0)
			opts->rate_window_ms = parse_int_option(opt, value);
		else if (strcmp(def->defname, "cache_ttl_ms") == 0)
			opts->cache_ttl_ms = parse_int_option(opt, value);
		else if (strcmp(def->defname, "default_window") == 0)
			opts->default_window_ms = parse_interval_option(def->defname, value);
	}

	/* DESIGN.md: 10 per 10 s for ClickHouse, off for pganalyze */
	if (!rate_set)
		opts->requests_per_window = (opts->api == PGAPI_CLICKHOUSE) ? 10 : 0;

	if (opts->url == NULL)
		opts->url = pstrdup(opts->api == PGAPI_CLICKHOUSE ?
							"https://api.clickhouse.cloud" :
							"https://app.pganalyze.com/graphql");
	else
	{
		/* no trailing slash: request paths start with one */
		size_t		len = strlen(opts->url);

		while (len > 0 && opts->url[len - 1] == '/')
			opts->url[--len] = '\0';
	}
}

/*
 * pgapi_get_table_options
 *		Read the table options of a foreign table.
 */
void
pgapi_get_table_options(Oid relid, PgApiTableOptions *opts)
{
	ForeignTable *table = GetForeignTable(relid);
	ListCell   *lc;

	opts->resource = NULL;
	opts->updatable = false;
	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "resource") == 0)
			opts->resource = pstrdup(defGetString(def));
		else if (strcmp(def->defname, "updatable") == 0)
			opts->updatable = defGetBoolean(def);
	}
}

/*
 * pgapi_get_column_field
 *		The "field" option of a column, or NULL.
 */
char *
pgapi_get_column_field(Oid relid, AttrNumber attnum)
{
	List	   *options = GetForeignColumnOptions(relid, attnum);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "field") == 0)
			return pstrdup(defGetString(def));
	}
	return NULL;
}

/*
 * pgapi_get_credentials
 *		Read the secrets of a user mapping.  Called at execution only
 *		(BeginForeignScan/Modify, never at plan time: C4).  Errors when the
 *		options the API needs are missing; there is no fallback to the
 *		environment (C15).
 */
void
pgapi_get_credentials(UserMapping *user, PgApiKind api,
					  PgApiCredentials *creds)
{
	ListCell   *lc;
	ForeignServer *server = GetForeignServer(user->serverid);

	memset(creds, 0, sizeof(*creds));
	creds->umid = user->umid;
	foreach(lc, user->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "key_id") == 0)
			creds->key_id = pstrdup(defGetString(def));
		else if (strcmp(def->defname, "key_secret") == 0)
			creds->key_secret = pstrdup(defGetString(def));
		else if (strcmp(def->defname, "api_key") == 0)
			creds->api_key = pstrdup(defGetString(def));
	}

	if (api == PGAPI_CLICKHOUSE && (creds->key_id == NULL || creds->key_secret == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("user mapping for server \"%s\" lacks ClickHouse Cloud credentials",
						server->servername),
				 errhint("Set them with ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD key_id '...', ADD key_secret '...').",
						 quote_identifier(server->servername))));
	if (api == PGAPI_PGANALYZE && creds->api_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("user mapping for server \"%s\" lacks a pganalyze API key",
						server->servername),
				 errhint("Set it with ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD api_key '...').",
						 quote_identifier(server->servername))));
}

/*-------------------------------------------------------------------------
 *
 * prometheus.c
 *		  Prometheus text exposition format to rows.
 *
 * The ClickHouse Cloud Prometheus endpoints answer in the text format
 * (version 0.0.4): "# HELP" and "# TYPE" lines, then one sample per line,
 * "name{label="value",...} value [timestamp]".  pgapi_prometheus_to_json()
 * turns such a body into the JSON document the REST row machinery of
 * scan.c already walks, {"result": [{"metric", "labels", "value",
 * "serviceId"}, ...]}, so that the postgres_prometheus resource is a
 * descriptor like any other and needs no row source of its own.
 *
 * Each line is first parsed by parse_sample(), which neither allocates
 * nor ereports: it only fills a PromSample with pointers into the line and
 * returns an error reason.  The caller raises the error (HV00M, with the
 * line number and an escaped excerpt) from ordinary backend code, and
 * builds the JSON with the json.c builder, whose json-c tree is freed with
 * its memory context if anything fails.
 *
 * Portions Copyright (c) 2026, pgapi_fdw developers
 *
 * IDENTIFICATION
 *		  src/prometheus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "pgapi_fdw.h"

/* Labels per sample; more is malformed (real families have about ten). */
#define PROM_MAX_LABELS 64
/* Bytes of a bad line quoted in the error. */
#define PROM_EXCERPT 60

typedef struct PromLabel
{
	const char *name;
	int			name_len;
	const char *value;			/* still escaped */
	int			value_len;
} PromLabel;

typedef struct PromSample
{
	const char *name;
	int			name_len;
	int			nlabels;
	PromLabel	labels[PROM_MAX_LABELS];
	const char *value;
	int			value_len;
} PromSample;

static bool
is_name_start(char c, bool metric)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		(metric && c == ':');
}

static bool
is_name_char(char c, bool metric)
{
	return is_name_start(c, metric) || (c >= '0' && c <= '9');
}

static const char *
skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Length of a name at p (metric or label name rules), 0 if none. */
static int
scan_name(const char *p, const char *end, bool metric)
{
	const char *q = p;

	if (q >= end || !is_name_start(*q, metric))
		return 0;
	while (q < end && is_name_char(*q, metric))
		q++;
	return (int) (q - p);
}

/*
 * Is [p, end) a sample value: a decimal float, or NaN / Inf with an
 * optional sign (Go's ParseFloat, as Prometheus uses it, takes them in any
 * case)?  Hexadecimal floats are not produced by exporters and are
 * refused.
 */
static bool
valid_value(const char *p, const char *end)
{
	int			len = (int) (end - p);
	const char *s = p;
	bool		digits = false;

	if (len == 3 && pg_strncasecmp(p, "nan", 3) == 0)
		return true;
	if (s < end && (*s == '+' || *s == '-'))
		s++;
	if ((end - s == 3 && pg_strncasecmp(s, "inf", 3) == 0) ||
		(end - s == 8 && pg_strncasecmp(s, "infinity", 8) == 0))
		return true;
	while (s < end && *s >= '0' && *s <= '9')
		s++, digits = true;
	if (s < end && *s == '.')
	{
		s++;
		while (s < end && *s >= '0' && *s <= '9')
			s++, digits = true;
	}
	if (!digits)
		return false;
	if (s < end && (*s == 'e' || *s == 'E'))
	{
		s++;
		if (s < end && (*s == '+' || *s == '-'))
			s++;
		if (s >= end || *s < '0' || *s > '9')
			return false;
		while (s < end && *s >= '0' && *s <= '9')
			s++;
	}
	return s == end;
}

/* Is [p, end) an optional sample timestamp: an integer of milliseconds? */
static bool
valid_timestamp(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p >= end || end - p > 19)
		return false;
	for (; p < end; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/*
 * Parse one sample line [p, end) into *s.  Returns NULL on success or the
 * reason the line is malformed.  Pure: no allocation, no ereport, so it
 * is safe anywhere.
 */
static const char *
parse_sample(const char *p, const char *end, PromSample *s)
{
	const char *tok;

	s->nlabels = 0;
	s->name = p;
	s->name_len = scan_name(p, end, true);
	if (s->name_len == 0)
		return "A sample must start with a metric name";
	p += s->name_len;

	if (p < end && *p == '{')
	{
		p++;
		for (;;)
		{
			PromLabel  *l;

			p = skip_blanks(p, end);
			if (p < end && *p == '}')
				break;			/* also after a trailing comma */
			if (s->nlabels >= PROM_MAX_LABELS)
				return "Too many labels";
			l = &s->labels[s->nlabels];
			l->name = p;
			l->name_len = scan_name(p, end, false);
			if (l->name_len == 0)
				return "Expected a label name";
			for (int i = 0; i < s->nlabels; i++)
				if (s->labels[i].name_len == l->name_len &&
					memcmp(s->labels[i].name, l->name, l->name_len) == 0)
					return "Duplicate label name";
			p = skip_blanks(p + l->name_len, end);
			if (p >= end || *p != '=')
				return "Expected \"=\" after a label name";
			p = skip_blanks(p + 1, end);
			if (p >= end || *p != '"')
				return "Expected a quoted label value";
			l->value = ++p;
			while (p < end && *p != '"')
			{
				if (*p == '\\')
				{
					if (p + 1 >= end ||
						(p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
						return "Invalid escape sequence in a label value";
					p++;
				}
				p++;
			}
			if (p >= end)
				return "Unterminated label value";
			l->value_len = (int) (p - l->value);
			s->nlabels++;
			p = skip_blanks(p + 1, end);
			if (p < end && *p == ',')
			{
				p++;
				continue;
			}
			if (p < end && *p == '}')
				break;
			return "Expected \",\" or \"}\" after a label value";
		}
		p++;					/* the '}' */
	}

	if (p >= end || (*p != ' ' && *p != '\t'))
		return "Expected a blank and a value after the metric";
	p = skip_blanks(p, end);
	tok = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	if (!valid_value(tok, p))
		return "Invalid sample value";
	s->value = tok;
	s->value_len = (int) (p - tok);

	p = skip_blanks(p, end);
	if (p < end)
	{
		tok = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		if (!valid_timestamp(tok, p))
			return "Invalid timestamp";
		if (skip_blanks(p, end) != end)
			return "Unexpected text after the timestamp";
	}
	return NULL;
}

/*
 * Check a "# HELP name text" or "# TYPE name type" line (p after "# ");
 * other comments are free text.  NULL when fine, else the reason.
 */
static const char *
check_comment(const char *p, const char *end)
{
	static const char *const types[] = {
		"counter", "gauge", "histogram", "summary", "untyped", NULL
	};
	bool		help = (end - p >= 5 && memcmp(p, "HELP", 4) == 0 &&
						(p[4] == ' ' || p[4] == '\t'));
	bool		type = (end - p >= 5 && memcmp(p, "TYPE", 4) == 0 &&
						(p[4] == ' ' || p[4] == '\t'));
	int			n;

	if (!help && !type)
		return NULL;
	p = skip_blanks(p + 4, end);
	n = scan_name(p, end, true);
	if (n == 0)
		return help ? "HELP without a metric name" : "TYPE without a metric name";
	p += n;
	if (help)
	{
		if (p < end && *p != ' ' && *p != '\t')
			return "Invalid metric name in HELP";
		return NULL;
	}
	p = skip_blanks(p, end);
	for (int i = 0; types[i]; i++)
		if (end - p == (int) strlen(types[i]) &&
			memcmp(p, types[i], end - p) == 0)
			return NULL;
	return "Unknown metric type in TYPE";
}

/* palloc'd copy of a label value with \\ \" \n resolved */
static char *
unescape(const char *p, int len)
{
	char	   *out = palloc(len + 1);
	char	   *o = out;

	for (int i = 0; i < len; i++)
	{
		if (p[i] == '\\' && i + 1 < len)
		{
			i++;
			*o++ = p[i] == 'n' ? '\n' : p[i];
		}
		else
			*o++ = p[i];
	}
	*o = '\0';
	return out;
}

/* The value as float8in reads it: NaN, Infinity, -Infinity or the digits. */
static char *
normalize_value(const char *p, int len)
{
	const char *s = p;

	if (len == 3 && pg_strncasecmp(p, "nan", 3) == 0)
		return pstrdup("NaN");
	if (*s == '+' || *s == '-')
		s++;
	if (*s == 'i' || *s == 'I')
		return pstrdup(*p == '-' ? "-Infinity" : "Infinity");
	return pnstrdup(p, len);
}

/* An excerpt of a bad line: printable ASCII kept, anything else \xNN. */
static char *
excerpt(const char *p, const char *end)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (; p < end && buf.len < PROM_EXCERPT; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			appendStringInfoChar(&buf, (char) c);
		else if (c == '\\')
			appendStringInfoString(&buf, "\\\\");
		else
			appendStringInfo(&buf, "\\x%02x", c);
	}
	if (p < end)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

static void
malformed(int lineno, const char *reason, const char *p, const char *end)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
			 errmsg("malformed Prometheus text at line %d", lineno),
			 errdetail_internal("%s: \"%s\".", reason, excerpt(p, end))));
}

/*
 * pgapi_prometheus_to_json
 *		Turn a Prometheus text body (UTF-8, len bytes) into the JSON text
 *		{"result": [{"metric": name, "labels": {...}, "value": "1.5",
 *		"serviceId": <label postgres_service>}, ...]}, palloc'd in
 *		CurrentMemoryContext (as is the temporary json-c tree, freed with
 *		it); its length goes to *json_len.  Values are JSON strings
 *		("NaN", "Infinity", "-Infinity" or the digits), which the column's
 *		input function converts.
 *
 *		ERRORs with HV00M naming the line and quoting an escaped excerpt of
 *		it when a line is malformed or the body is not UTF-8.  The caller
 *		provides the "remote request" error context.
 */
char *
pgapi_prometheus_to_json(const char *data, size_t len, size_t *json_len)
{
	const char *p = data;
	const char *end = data + len;
	PgApiJsonBuilder *rows = pgapi_jb_array();
	PgApiJsonBuilder *root;
	PromSample *s = palloc(sizeof(PromSample));
	int			lineno = 0;

	if (!pg_verify_mbstr(PG_UTF8, data, (int) len, true))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("malformed Prometheus text"),
				 errdetail("The response is not valid UTF-8.")));

	while (p < end)
	{
		const char *eol = memchr(p, '\n', end - p);
		const char *lend = eol ? eol : end;
		const char *reason;
		const char *start;

		lineno++;
		if (lend > p && lend[-1] == '\r')
			lend--;
		start = skip_blanks(p, lend);

		if (start == lend)
			reason = NULL;		/* blank line */
		else if (*start == '#')
			reason = check_comment(skip_blanks(start + 1, lend), lend);
		else if ((reason = parse_sample(start, lend, s)) == NULL)
		{
			PgApiJsonBuilder *row = pgapi_jb_object();
			PgApiJsonBuilder *labels = pgapi_jb_object();
			char	   *service_id = NULL;

			for (int i = 0; i < s->nlabels; i++)
			{
				char	   *name = pnstrdup(s->labels[i].name, s->labels[i].name_len);
				char	   *value = unescape(s->labels[i].value, s->labels[i].value_len);

				/* the body is UTF-8; the builder takes server encoding */
				if (GetDatabaseEncoding() != PG_UTF8)
					value = pg_any_to_server(value, strlen(value), PG_UTF8);
				pgapi_jb_add_string(labels, name, value);
				if (strcmp(name, "postgres_service") == 0)
					service_id = value;
			}
			pgapi_jb_add_string(row, "metric",
								pnstrdup(s->name, s->name_len));
			pgapi_jb_add_builder(row, "labels", labels);
			pgapi_jb_add_string(row, "value",
								normalize_value(s->value, s->value_len));
			if (service_id)
				pgapi_jb_add_string(row, "serviceId", service_id);
			pgapi_jb_add_builder(rows, NULL, row);
		}
		if (reason)
			malformed(lineno, reason, start, lend);

		if (eol == NULL)
			break;
		p = eol + 1;
	}

	root = pgapi_jb_object();
	pgapi_jb_add_builder(root, "result", rows);
	return pgapi_jb_finish(root, json_len);
}

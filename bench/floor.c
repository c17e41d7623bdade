/*-------------------------------------------------------------------------
 *
 * floor.c
 *		The floor of the bulk-scan benchmark: fetch the same pages of slow
 *		query patterns that pgapi_fdw fetches, parse every page with json-c
 *		and touch every field, outside PostgreSQL.
 *
 * One keep-alive curl handle pages with limit/offset until a short page, like
 * the FDW and the http-extension loop.  Every field of every row is read:
 * strings have their length summed, numbers (and the queryId string) are
 * converted with strtoll/strtod, so that the work matches what a scan that
 * converts every column has to do.  It prints "rows seconds checksum".
 *
 * Usage: floor BASE_URL PATH_AND_QUERY USER:SECRET
 *   e.g. floor http://127.0.0.1:5000 '/v1/.../slowQueryPatterns?from_date=..' k:s
 *
 * Copyright (c) 2026, pgapi_fdw contributors
 *
 * IDENTIFICATION
 *		bench/floor.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	Buf		   *b = (Buf *) arg;
	size_t		n = size * nmemb;

	if (b->len + n + 1 > b->cap)
	{
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 65536;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
			return 0;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	CURL	   *curl;
	Buf			buf = {0};
	long		offset = 0;
	long		limit = 500;
	long		rows = 0;
	double		checksum = 0;
	double		t0;
	json_tokener *tok;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s BASE_URL PATH?QUERY USER:SECRET\n", argv[0]);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	curl = curl_easy_init();
	tok = json_tokener_new_ex(64);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_USERPWD, argv[3]);
	curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, NULL);

	t0 = now_s();
	for (;;)
	{
		char		url[4096];
		long		status = 0;
		struct json_object *root;
		struct json_object *result;
		size_t		n;

		snprintf(url, sizeof(url), "%s%s&limit=%ld&offset=%ld",
				 argv[1], argv[2], limit, offset);
		curl_easy_setopt(curl, CURLOPT_URL, url);
		buf.len = 0;
		if (curl_easy_perform(curl) != CURLE_OK)
		{
			fprintf(stderr, "request failed: %s\n", url);
			return 1;
		}
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
		{
			fprintf(stderr, "HTTP %ld: %s\n", status, url);
			return 1;
		}
		json_tokener_reset(tok);
		root = json_tokener_parse_ex(tok, buf.data, (int) buf.len);
		if (root == NULL ||
			!json_object_object_get_ex(root, "result", &result) ||
			!json_object_is_type(result, json_type_array))
		{
			fprintf(stderr, "bad JSON page at offset %ld\n", offset);
			return 1;
		}
		n = json_object_array_length(result);
		for (size_t i = 0; i < n; i++)
		{
			struct json_object *row = json_object_array_get_idx(result, i);

			json_object_object_foreach(row, key, val)
			{
				(void) key;
				switch (json_object_get_type(val))
				{
					case json_type_string:
						{
							const char *s = json_object_get_string(val);
							char	   *end;

							/* queryId: a signed 64-bit integer as a string */
							if (key[0] == 'q' && key[5] == 'I')
								checksum += (double) strtoll(s, &end, 10);
							else
								checksum += json_object_get_string_len(val);
							break;
						}
					case json_type_int:
						checksum += (double) json_object_get_int64(val);
						break;
					case json_type_double:
						checksum += json_object_get_double(val);
						break;
					default:
						break;
				}
			}
		}
		json_object_put(root);
		rows += n;
		offset += n;
		if ((long) n < limit)
			break;
	}
	printf("%ld %.6f %.0f\n", rows, now_s() - t0, checksum);
	json_tokener_free(tok);
	curl_easy_cleanup(curl);
	free(buf.data);
	curl_global_cleanup();
	return 0;
}

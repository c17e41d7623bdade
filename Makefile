# pgapi_fdw: PostgreSQL foreign data wrapper for the pganalyze and
# ClickHouse Cloud APIs.  Built with PGXS.

MODULE_big = pgapi_fdw
OBJS = \
	$(WIN32RES) \
	pgapi_fdw.o \
	src/api_clickhouse.o \
	src/api_pganalyze.o \
	src/cache.o \
	src/deparse.o \
	src/graphql.o \
	src/headers.o \
	src/http.o \
	src/import.o \
	src/json.o \
	src/jsontape.o \
	src/modify.o \
	src/option.o \
	src/prometheus.o \
	src/ratelimit.o \
	src/resource.o \
	src/rest.o \
	src/rfc3339.o \
	src/scan.o

EXTENSION = pgapi_fdw
DATA = pgapi_fdw--1.0.sql
PGFILEDESC = "pgapi_fdw - foreign data wrapper for API services"

CURL_CONFIG ?= curl-config
PKG_CONFIG ?= pkg-config

PG_CPPFLAGS = -I$(srcdir)/src $(shell $(PKG_CONFIG) --cflags json-c) \
	$(shell $(CURL_CONFIG) --cflags)
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs json-c) $(shell $(CURL_CONFIG) --libs)
override PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter

REGRESS = setup option read types explain errors security patterns joins pganalyze writes import metrics cache ratelimit cron
REGRESS_OPTS = --inputdir=$(srcdir) --load-extension=plpgsql

EXTRA_CLEAN = results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object includes the one shared
# header, so a change to it (a struct layout) must rebuild them all.
$(filter-out $(WIN32RES),$(OBJS)): $(srcdir)/src/pgapi_fdw.h

# shellcheck shell=bash
#
# common.sh -- shared set-up for scripts/report.sh and scripts/test.sh
#
# Sourced, never run.  It knows how to install the packages a fresh Debian 12
# needs, build and install the extension, start the API simulator, and start a
# throwaway PostgreSQL 15 cluster that can reach it.  Everything it starts is
# recorded in PGAPI_* variables, and `cleanup` (installed as an EXIT/INT/TERM
# trap by `setup_cleanup_trap`) stops it and removes the temp dir, whatever
# way the script ends.
#
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` OS user that the Debian package creates; as anyone else it runs
# as that user.  The checkout may not be readable by `postgres` (it may live
# under /root), so nothing the server runs reads from the checkout: the temp
# dir is under /tmp and world-traversable, and the server only reads files
# in it.
#
# Environment knobs:
#   PGAPI_PRELOAD      shared_preload_libraries (default
#                      'pgapi_fdw,pg_cron,pg_stat_statements': the rate
#                      limit is shared between backends when the library is
#                      preloaded; the secret sweep reads pg_stat_statements)
#   PGAPI_EXTRA_CONF   extra postgresql.conf lines, appended verbatim
#   PGAPI_POSTGRES     the program pg_ctl starts instead of postgres (pg_ctl
#                      -p), e.g. a script that runs postgres under valgrind
#   PGAPI_PG_TIMEOUT   seconds pg_ctl waits for the cluster to start or stop
#                      (default 60)
#   PGAPI_JOBS         make -j (default: number of CPUs)
#   PGAPI_PG_PREFIX    run against a private, relocatable copy of the
#                      PostgreSQL 15 tree under this directory (made on first
#                      use) and install the extension there, not into /usr;
#                      lets several checkouts test side by side

set -euo pipefail

PGAPI_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config
export PG_CONFIG
PGAPI_DESTDIR=""
if [ -n "${PGAPI_PG_PREFIX:-}" ]; then
	PGAPI_DESTDIR=$PGAPI_PG_PREFIX
	PG_BINDIR=$PGAPI_PG_PREFIX/usr/lib/postgresql/$PG_MAJOR/bin
fi
export PATH="$PG_BINDIR:$PATH"

# What a build, the cluster and the tests need on a bare Debian 12.
# gcc only recommends libc6-dev, and we install without recommends.
PGAPI_PACKAGES=(
	postgresql-15 postgresql-server-dev-15 postgresql-15-cron
	libcurl4-openssl-dev libjson-c-dev libc6-dev
	python3 make gcc pkg-config perl libipc-run-perl
	curl ca-certificates openssl clang libclang-rt-14-dev
)

# Filled in as things start; `cleanup` looks at them.
PGAPI_TMP=""
PGAPI_PGDATA=""
PGAPI_SIM_PID=""
PGAPI_CLEANED=0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
	PGAPI_OS_USER=postgres
else
	SUDO=(sudo)
	PGAPI_OS_USER=$(id -un)
fi

log()
{
	printf '==> %s\n' "$*" >&2
}

die()
{
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# Run a command as the OS user that owns the cluster.  runuser (util-linux,
# essential on Debian) keeps our environment; cd first so the child does not
# start in a checkout it cannot read.
as_pg_user()
{
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$PGAPI_TMP" && runuser -u "$PGAPI_OS_USER" -- "$@")
	else
		(cd "$PGAPI_TMP" && "$@")
	fi
}

# ensure_packages [extra...]: install whatever is missing, with a single
# `apt-get update`, and only when something is missing (keeps reruns fast and
# offline-friendly).
ensure_packages()
{
	local pkg missing=()

	for pkg in "${PGAPI_PACKAGES[@]}" "$@"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	log "installing: ${missing[*]}"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# build_and_install: incremental build (no `make clean`, so reruns are quick)
# with warnings as errors, then install into the PostgreSQL 15 tree.
# PG_CFLAGS is passed through the environment, not the make command line, so
# that the Makefile's own `PG_CFLAGS += -Wall ...` still applies.
build_and_install()
{
	local jobs=${PGAPI_JOBS:-$(nproc 2>/dev/null || echo 2)}

	log "building pgapi_fdw"
	(cd "$PGAPI_REPO" &&
		PG_CFLAGS="-Werror ${PG_CFLAGS:-}" make -j"$jobs" PG_CONFIG="$PG_CONFIG")
	if [ -n "$PGAPI_DESTDIR" ]; then
		make_private_prefix
		log "installing pgapi_fdw under $PGAPI_DESTDIR"
		(cd "$PGAPI_REPO" &&
			make install PG_CONFIG="$PG_CONFIG" DESTDIR="$PGAPI_DESTDIR" >/dev/null)
		return 0
	fi
	log "installing pgapi_fdw"
	(cd "$PGAPI_REPO" &&
		"${SUDO[@]}" make install PG_CONFIG="$PG_CONFIG" >/dev/null)
}

# make_private_prefix: copy the installed PostgreSQL 15 tree (binaries,
# libraries, share, pg_cron included) under PGAPI_PG_PREFIX once.  The
# PostgreSQL binaries find their share and lib directories relative to
# themselves, so the copy is a complete server of its own.
make_private_prefix()
{
	local d

	[ -x "$PG_BINDIR/postgres" ] && return 0
	log "making a private PostgreSQL tree under $PGAPI_DESTDIR"
	for d in /usr/lib/postgresql/$PG_MAJOR /usr/share/postgresql/$PG_MAJOR; do
		mkdir -p "$PGAPI_DESTDIR$(dirname "$d")"
		cp -a "$d" "$PGAPI_DESTDIR$(dirname "$d")/"
	done
	chmod -R a+rX "$PGAPI_DESTDIR"
}

# make_tmp: one world-traversable temp dir under /tmp (not $TMPDIR, which may
# be private) holding the cluster and the simulator's files.
make_tmp()
{
	if [ -n "$PGAPI_TMP" ]; then
		return 0
	fi
	PGAPI_TMP=$(mktemp -d /tmp/pgapi_fdw.XXXXXX)
	chmod 755 "$PGAPI_TMP"
}

# free_port: a TCP port nobody listens on right now.  The cluster only
# listens on a private unix socket, so a race here cannot collide; the port
# just names the socket.
free_port()
{
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_simulator: start src/test/apisim.py on an ephemeral loopback port
# and export PGAPI_SIM_URL, PGAPI_SIM_GRAPHQL_URL and PGAPI_SIM_JOURNAL.
# It runs as the invoking user (it lives in the checkout); its journal is in
# the temp dir and made world-readable so the server's pg_read_file() and
# COPY FROM PROGRAM (running as the cluster's OS user) can read it.
start_simulator()
{
	local sim="$PGAPI_REPO/src/test/apisim.py"
	local dir port="" i

	[ -f "$sim" ] || die "simulator not found: $sim"
	make_tmp
	dir="$PGAPI_TMP/sim"
	mkdir -p "$dir"
	chmod 755 "$dir"
	: >"$dir/journal.jsonl"
	chmod 644 "$dir/journal.jsonl"

	log "starting API simulator"
	(umask 022 && exec /usr/bin/python3 "$sim" --port 0 \
		--port-file "$dir/port" --journal "$dir/journal.jsonl") \
		>"$dir/sim.log" 2>&1 &
	PGAPI_SIM_PID=$!

	# The port file appears once the simulator listens; wait for a whole
	# number in it, giving up if the simulator dies or takes over 30 s.
	for ((i = 0; i < 300; i++)); do
		if [ -s "$dir/port" ]; then
			port=$(cat "$dir/port")
			[[ "$port" =~ ^[0-9]+$ ]] && break
			port=""
		fi
		if ! kill -0 "$PGAPI_SIM_PID" 2>/dev/null; then
			cat "$dir/sim.log" >&2 || true
			die "API simulator exited before listening"
		fi
		sleep 0.1
	done
	if [ -z "$port" ]; then
		cat "$dir/sim.log" >&2 || true
		die "API simulator did not write its port file within 30 s"
	fi

	export PGAPI_SIM_URL="http://127.0.0.1:$port"
	export PGAPI_SIM_GRAPHQL_URL="$PGAPI_SIM_URL/graphql"
	export PGAPI_SIM_JOURNAL="$dir/journal.jsonl"
	export PGAPI_SIM_LOG="$dir/sim.log"
}

# start_cluster: initdb a fresh cluster in the temp dir, owned by the
# unprivileged OS user, reachable only over a unix socket in that dir, and
# start it.  Call it after start_simulator: the postmaster's environment
# carries PGAPI_SIM_* for the tests' COPY ... FROM PROGRAM helpers.
start_cluster()
{
	local dir port preload=${PGAPI_PRELOAD:-pgapi_fdw,pg_cron,pg_stat_statements}
	local -a env_vars postgres_opt=()

	make_tmp
	dir="$PGAPI_TMP/pg"
	mkdir -p "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$PGAPI_OS_USER:" "$dir"
	fi
	chmod 755 "$dir"
	port=$(free_port)
	PGAPI_PGDATA="$dir/data"

	log "creating cluster"
	as_pg_user "$PG_BINDIR/initdb" -D "$PGAPI_PGDATA" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed"; }

	# pg_cron connects over libpq; point it at our socket, since we listen
	# on no TCP address.  fsync etc. off: the cluster is thrown away.
	# pg_stat_statements turns on query ids; "regress" keeps them out of
	# EXPLAIN VERBOSE, whose output the tests compare.  It keeps up to
	# 20000 statements, so that a whole test run fits.
	as_pg_user tee -a "$PGAPI_PGDATA/postgresql.conf" >/dev/null <<EOF

# --- added by scripts/common.sh ---
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
unix_socket_permissions = 0777
shared_preload_libraries = '$preload'
cron.database_name = 'postgres'
cron.host = '$dir'
compute_query_id = regress
pg_stat_statements.max = 20000
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
${PGAPI_EXTRA_CONF:-}
EOF

	# An explicit environment: runuser would keep ours anyway, but naming
	# what the server sees makes the contract visible.
	env_vars=(
		"PATH=$PG_BINDIR:/usr/local/bin:/usr/bin:/bin"
		"LC_ALL=C"
		"HOME=$dir"
	)
	local v
	for v in PGAPI_SIM_URL PGAPI_SIM_GRAPHQL_URL PGAPI_SIM_JOURNAL; do
		if [ -n "${!v:-}" ]; then
			env_vars+=("$v=${!v}")
		fi
	done

	if [ -n "${PGAPI_POSTGRES:-}" ]; then
		postgres_opt=(-p "$PGAPI_POSTGRES")
	fi

	log "starting cluster (preload: $preload)"
	if ! as_pg_user env -i "${env_vars[@]}" "$PG_BINDIR/pg_ctl" -w \
		-t "${PGAPI_PG_TIMEOUT:-60}" "${postgres_opt[@]}" \
		-D "$PGAPI_PGDATA" -l "$dir/server.log" start >/dev/null; then
		tail -n 50 "$dir/server.log" >&2 || true
		die "could not start the cluster"
	fi

	export PGHOST="$dir" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
	export PGAPI_SERVER_LOG="$dir/server.log"
}

# stop_cluster: fast shutdown, then make sure no postmaster is left.
stop_cluster()
{
	local pid=""

	if [ -z "$PGAPI_PGDATA" ] || [ ! -d "$PGAPI_PGDATA" ]; then
		return 0
	fi
	if [ -f "$PGAPI_PGDATA/postmaster.pid" ]; then
		pid=$(head -n 1 "$PGAPI_PGDATA/postmaster.pid" 2>/dev/null || true)
		as_pg_user "$PG_BINDIR/pg_ctl" -D "$PGAPI_PGDATA" -m fast -w \
			-t "${PGAPI_PG_TIMEOUT:-60}" stop >/dev/null 2>&1 ||
			as_pg_user "$PG_BINDIR/pg_ctl" -D "$PGAPI_PGDATA" -m immediate \
				-w -t 30 stop >/dev/null 2>&1 || true
		# Last resort: the pid came from our own cluster's postmaster.pid.
		if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	PGAPI_PGDATA=""
}

# stop_simulator: SIGTERM the simulator we started (by pid), SIGKILL if it
# does not go within 5 s.
stop_simulator()
{
	local i

	if [ -z "$PGAPI_SIM_PID" ]; then
		return 0
	fi
	kill -TERM "$PGAPI_SIM_PID" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$PGAPI_SIM_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$PGAPI_SIM_PID" 2>/dev/null || true
	wait "$PGAPI_SIM_PID" 2>/dev/null || true
	PGAPI_SIM_PID=""
}

# cleanup: idempotent; safe to call directly (test.sh does, so the summary
# line stays last) and again from the trap.
cleanup()
{
	if [ "$PGAPI_CLEANED" -eq 1 ]; then
		return 0
	fi
	PGAPI_CLEANED=1
	stop_cluster
	stop_simulator
	if [ -n "$PGAPI_TMP" ] && [ -d "$PGAPI_TMP" ]; then
		rm -rf "$PGAPI_TMP"
	fi
	PGAPI_TMP=""
}

# setup_cleanup_trap: run cleanup on every way out.  On a signal, exit with
# the conventional 128+N so callers see the interruption.
setup_cleanup_trap()
{
	trap cleanup EXIT
	trap 'cleanup; trap - INT; kill -INT $$' INT
	trap 'cleanup; exit 143' TERM
	trap 'cleanup; exit 129' HUP
}

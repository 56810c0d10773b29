#!/usr/bin/env bash
# ct4.metrics() for node_exporter's textfile collector, the alternative to
# prometheus-postgres-exporter (README "Prometheus"):
#   scripts/metrics_textfile.sh <collector dir> [psql connection options]
#   e.g. from cron, every minute:
#   * * * * *  postgres  /opt/ct4_jobs/scripts/metrics_textfile.sh /var/lib/prometheus/node-exporter -d fleet
# Writes <dir>/ct4_jobs.prom atomically: into a temporary file in the same
# directory, then mv (a rename), so the collector never reads half a file.
# When the query fails the previous file stays (its age shows in
# node_textfile_mtime_seconds) and the script exits non-zero.
set -euo pipefail
dir=${1:?usage: $0 <collector dir> [psql connection options]}
shift
tmp=$(mktemp "$dir/.ct4_jobs.prom.XXXXXX")
trap 'rm -f "$tmp"' EXIT
psql -X -A -t -q -v ON_ERROR_STOP=1 "$@" -c 'SELECT ct4.metrics()' >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$dir/ct4_jobs.prom"

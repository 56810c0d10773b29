#!/usr/bin/env bash
# Usage: scripts/pgroot.sh [fresh] [name]
# Prints (and with "fresh" re-creates) a private, relocated copy of the
# system's PostgreSQL 15 (binaries, libs, share with pg_cron and pgTAP).
# `make install DESTDIR=<it>` installs ct4_jobs there, so the tests of one
# checkout never see another checkout's build and never need root to install.
# PostgreSQL finds share/ and lib/ relative to its own binary.
set -euo pipefail
key=$(cd "$(dirname "$0")/.." && pwd | md5sum | cut -c1-10)
fresh=""; [ "${1:-}" = fresh ] && { fresh=1; shift; }
# A name keeps separate copies apart (the quick start's cluster keeps
# running while the tests re-create theirs).
root=/tmp/ct4_pgroot_$key${1:+_$1}
if [ -n "$fresh" ] || [ ! -x "$root/usr/lib/postgresql/15/bin/postgres" ]; then
    rm -rf "$root"
    mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql"
    cp -a /usr/lib/postgresql/15 "$root/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
    chmod -R a+rX "$root"
fi
echo "$root"

#!/usr/bin/env bash
# Prints (and with "fresh" re-creates) a private, relocated copy of the
# system's PostgreSQL 15 (binaries, libs, share with pg_cron and pgTAP).
# `make install DESTDIR=<it>` installs ct4_jobs there, so the tests of one
# checkout never see another checkout's build and never need root to install.
# PostgreSQL finds share/ and lib/ relative to its own binary.
set -euo pipefail
key=$(cd "$(dirname "$0")/.." && pwd | md5sum | cut -c1-10)
root=/tmp/ct4_pgroot_$key
if [ "${1:-}" = fresh ] || [ ! -x "$root/usr/lib/postgresql/15/bin/postgres" ]; then
    rm -rf "$root"
    mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql"
    cp -a /usr/lib/postgresql/15 "$root/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
    chmod -R a+rX "$root"
fi
echo "$root"

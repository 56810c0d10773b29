# Sourced by the benches that may start their own cluster: with $PGPORT set
# they use that cluster; otherwise they build, install into a private copy
# of PostgreSQL (scripts/pgroot.sh) and start a throwaway cluster that is
# stopped when the bench exits.
if [ -z "${PGPORT:-}" ]; then
    R=$(scripts/pgroot.sh)
    make -s -j2 >/dev/null && make -s install DESTDIR="$R" >/dev/null
    eval "$(CT4_PGROOT=$R scripts/cluster.sh start)"
    trap 'CT4_PORT=$PGPORT scripts/cluster.sh stop' EXIT
fi

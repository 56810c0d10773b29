// The DROP EXTENSION guard (SPEC 6): an event trigger on ddl_command_start
// for DROP EXTENSION. It reads the statement's parse tree (not its text),
// and when ct4_jobs is among the extensions being dropped it calls
// ct4._drop_guard(), which refuses while raw, canon, ops or crm hold rows
// (unless SET ct4.allow_drop = on) and otherwise removes the ct4: pg_cron
// entries. ddl_command_start, because at sql_drop the tables are gone and
// the guard itself with them; an error here aborts the DROP before anything
// is dropped, and the entries' removal rolls back with a DROP that fails
// later.
#include "pg/guard.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "commands/event_trigger.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
}

#include <cstring>

namespace {

// Whether the DROP EXTENSION statement names ct4_jobs. Reads parse nodes
// only (no call that may ereport).
bool drops_ct4_jobs(const Node *tree) {
    if (tree == nullptr || !IsA(tree, DropStmt)) return false;
    const DropStmt *drop = reinterpret_cast<const DropStmt *>(tree);
    if (drop->removeType != OBJECT_EXTENSION) return false;
    const ListCell *lc;
    foreach (lc, drop->objects) {
        const Node *name = static_cast<const Node *>(lfirst(lc));
        if (IsA(name, String) && std::strcmp(strVal(name), "ct4_jobs") == 0) return true;
    }
    return false;
}

Datum drop_guard_trigger(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        throw ct4::pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                             "ct4._drop_guard_trigger() must be called as an event trigger");
    const EventTriggerData *trig = reinterpret_cast<const EventTriggerData *>(fcinfo->context);
    if (!drops_ct4_jobs(trig->parsetree)) return (Datum)0;
    ct4::pg::Spi spi;
    spi.exec("SELECT ct4._drop_guard()");
    return (Datum)0;
}

}  // namespace

CT4_FUNCTION(ct4_drop_guard_trigger, drop_guard_trigger)

// The module's one PG_MODULE_MAGIC block.
extern "C" {
#include "postgres.h"
#include "fmgr.h"
PG_MODULE_MAGIC;
}

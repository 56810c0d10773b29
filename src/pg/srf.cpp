#include "pg/srf.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/tuplestore.h"
}

namespace ct4::pg {

RowSink::RowSink(FunctionCallInfo fcinfo) : fcinfo_(fcinfo) {
    natts_ = guarded([&] {
        InitMaterializedSRF(fcinfo, 0);
        return ((ReturnSetInfo *)fcinfo->resultinfo)->setDesc->natts;
    });
}

const char *RowSink::column_name(int i) const {
    auto *rsinfo = (ReturnSetInfo *)fcinfo_->resultinfo;
    return NameStr(TupleDescAttr(rsinfo->setDesc, i)->attname);
}

void RowSink::put_row(const std::vector<OutCol> &row) {
    if ((int)row.size() != natts_)
        throw Error(ERRCODE_INTERNAL_ERROR, "ct4_jobs: result row has wrong number of columns");
    int n = natts_;
    Datum *values = (Datum *)guarded([&] { return palloc(sizeof(Datum) * (n ? n : 1)); });
    bool *nulls = (bool *)guarded([&] { return palloc(sizeof(bool) * (n ? n : 1)); });
    for (int i = 0; i < n; i++) {
        values[i] = row[(size_t)i].value;
        nulls[i] = row[(size_t)i].isnull;
    }
    auto *rsinfo = (ReturnSetInfo *)fcinfo_->resultinfo;
    guarded([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
}

}  // namespace ct4::pg

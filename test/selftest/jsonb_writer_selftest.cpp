// ct4._jsonb_writer_selftest(): proves in the database that JsonbWriter
// (src/core/jsonb_writer.hpp) makes the very bytes jsonb_in makes, so a
// change of PostgreSQL's jsonb or numeric format fails the regression tests
// instead of corrupting data. Each document's JSON text sits next to the
// builder calls that must produce it. The last rows pass all documents as one
// jsonb[] parameter (p_jsonb_array) and check what SQL reads back.
#include "core/jsonb_writer.hpp"
#include "pg/spi.hpp"
#include "pg/datum.hpp"
#include "pg/srf.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

using ct4::core::JsonbWriter;
using namespace ct4::pg;

struct Built {
    std::string json;
    std::string bytes;
};

struct Doc {
    const char *json;
    void (*build)(JsonbWriter &w);
};

const Doc kDocs[] = {
    {R"({"rule":"earliest_eligible_lead","lead_id":729,"trips_per_day":[{"date":"2024-11-23","trips":3}],"ok":true,"x":null})",
     [](JsonbWriter &w) {
         w.begin_object();
         w.key("rule");
         w.string("earliest_eligible_lead");
         w.key("lead_id");
         w.int64(729);
         w.key("trips_per_day");
         w.begin_array();
         w.begin_object();
         w.key("date");
         w.string("2024-11-23");
         w.key("trips");
         w.int64(3);
         w.end_object();
         w.end_array();
         w.key("ok");
         w.boolean(true);
         w.key("x");
         w.null();
         w.end_object();
     }},
    {"[0,7,9999,10000,123456789,-5,9007199254740993,-9223372036854775808,9223372036854775807,"
     "100000000,-10000]",
     [](JsonbWriter &w) {
         w.begin_array();
         for (int64_t v :
              {int64_t(0), int64_t(7), int64_t(9999), int64_t(10000), int64_t(123456789),
               int64_t(-5), int64_t(9007199254740993), std::numeric_limits<int64_t>::min(),
               std::numeric_limits<int64_t>::max(), int64_t(100000000), int64_t(-10000)})
             w.int64(v);
         w.end_array();
     }},
    {"7", [](JsonbWriter &w) { w.int64(7); }},
    // Decimals keep numeric_in's display scale; 1e-70 and 1e300 need the
    // long numeric format (dscale > 63, weight > 63).
    {"[0.961111,0.84,1,-2.50,1e-05,0.000001,123456.789,1E+3,100.0,0.0,-0,1e-70,1e300,"
     "-12345678901234567890.5]",
     [](JsonbWriter &w) {
         w.begin_array();
         for (const char *t :
              {"0.961111", "0.84", "1", "-2.50", "1e-05", "0.000001", "123456.789", "1E+3", "100.0",
               "0.0", "-0", "1e-70", "1e300", "-12345678901234567890.5"})
             w.decimal(t);
         w.end_array();
     }},
    {"0.5", [](JsonbWriter &w) { w.decimal("0.5"); }},
    {R"("hi")", [](JsonbWriter &w) { w.string("hi"); }},
    {"{}",
     [](JsonbWriter &w) {
         w.begin_object();
         w.end_object();
     }},
    {"[]",
     [](JsonbWriter &w) {
         w.begin_array();
         w.end_array();
     }},
    {R"({"a":[1,[2,{"b":{}}],[]],"c":{"d":[{"e":null}]},"e":false})",
     [](JsonbWriter &w) {
         w.begin_object();
         w.key("a");
         w.begin_array();
         w.int64(1);
         w.begin_array();
         w.int64(2);
         w.begin_object();
         w.key("b");
         w.begin_object();
         w.end_object();
         w.end_object();
         w.end_array();
         w.begin_array();
         w.end_array();
         w.end_array();
         w.key("c");
         w.begin_object();
         w.key("d");
         w.begin_array();
         w.begin_object();
         w.key("e");
         w.null();
         w.end_object();
         w.end_array();
         w.end_object();
         w.key("e");
         w.boolean(false);
         w.end_object();
     }},
    {R"({"name":"José Ñúñez","emoji":"😀","日本":"東京"})",
     [](JsonbWriter &w) {
         w.begin_object();
         w.key("name");
         w.string("José Ñúñez");
         w.key("emoji");
         w.string("😀");
         w.key("日本");
         w.string("東京");
         w.end_object();
     }},
    {R"({"bbb":1,"a":2,"cc":3,"aa":4,"b":5,"ab":"x"})",
     [](JsonbWriter &w) {
         w.begin_object();
         w.key("bbb");
         w.int64(1);
         w.key("a");
         w.int64(2);
         w.key("cc");
         w.int64(3);
         w.key("aa");
         w.int64(4);
         w.key("b");
         w.int64(5);
         w.key("ab");
         w.string("x");
         w.end_object();
     }},
};

// Documents past JB_OFFSET_STRIDE (32) entries, text and calls made by the
// same loop: an object of 40 keys (ints and strings of varying length, so
// numerics need varying padding) and an array of 70 such values.
Built object40(JsonbWriter &w) {
    Built b{"{", {}};
    w.begin_object();
    for (int i = 0; i < 40; i++) {
        std::string k = "k" + std::to_string(i);
        b.json += (i ? ",\"" : "\"") + k + "\":";
        w.key(k);
        if (i % 2 == 0) {
            b.json += std::to_string(i * 37);
            w.int64(i * 37);
        } else {
            std::string s((size_t)(i % 3), 's');
            b.json += "\"" + s + "\"";
            w.string(s);
        }
    }
    w.end_object();
    b.json += "}";
    return b;
}

Built array70(JsonbWriter &w) {
    Built b{"[", {}};
    w.begin_array();
    for (int i = 0; i < 70; i++) {
        if (i) b.json += ",";
        if (i % 2 == 0) {
            b.json += std::to_string(i * 1001);
            w.int64(i * 1001);
        } else {
            std::string s((size_t)(i % 3), 'v');
            b.json += "\"" + s + "\"";
            w.string(s);
        }
    }
    w.end_array();
    b.json += "]";
    return b;
}

bool same_varlena(Datum d, const std::string &bytes) {
    const struct varlena *v = (const struct varlena *)DatumGetPointer(d);
    return VARATT_IS_4B_U(v) && VARSIZE(v) == bytes.size() &&
           std::memcmp(v, bytes.data(), bytes.size()) == 0;
}

// The same jsonb, whatever its header: a datum read from a tuple may carry
// the 1-byte header heap_form_tuple gives short varlenas.
bool same_payload(Datum d, const std::string &bytes) {
    const struct varlena *v = (const struct varlena *)DatumGetPointer(d);
    if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v)) return false;  // toasted: not ours
    return VARSIZE_ANY_EXHDR(v) == bytes.size() - VARHDRSZ &&
           std::memcmp(VARDATA_ANY(v), bytes.data() + VARHDRSZ, bytes.size() - VARHDRSZ) == 0;
}

Datum jsonb_writer_selftest(FunctionCallInfo fcinfo) {
    std::vector<Built> docs;
    JsonbWriter w;  // reused, as the jobs do
    for (const Doc &d : kDocs) {
        w.reset();
        d.build(w);
        docs.push_back({d.json, w.finish()});
    }
    for (Built (*make)(JsonbWriter &) : {object40, array70}) {
        w.reset();
        Built b = make(w);
        b.bytes = w.finish();
        docs.push_back(std::move(b));
    }

    RowSink sink(fcinfo);
    std::vector<std::string> varlenas;
    std::vector<std::optional<std::string>> texts;
    for (const Built &b : docs) {
        const char *json = b.json.c_str();
        Datum parsed =
            guarded([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(json)); });
        sink.put_row(
            {{text_datum(b.json), false}, {BoolGetDatum(same_varlena(parsed, b.bytes)), false}});
        varlenas.push_back(b.bytes);
        texts.push_back(b.json);
    }

    // The built jsonb[] has the bytes construct_array makes of the same datums.
    ct4::pg::Param arr = p_jsonb_array(varlenas);
    size_t n = varlenas.size();
    Datum *elems = (Datum *)guarded([&] { return palloc(sizeof(Datum) * n); });
    for (size_t i = 0; i < n; i++) {
        const std::string &v = varlenas[i];
        void *copy = guarded([&] { return palloc(v.size()); });
        std::memcpy(copy, v.data(), v.size());
        elems[i] = PointerGetDatum(copy);
    }
    Datum ref = guarded([&] {
        return PointerGetDatum(construct_array(elems, (int)n, JSONBOID, -1, false, TYPALIGN_INT));
    });
    std::string ref_bytes((const char *)DatumGetPointer(ref), VARSIZE(DatumGetPointer(ref)));
    sink.put_row({{text_datum("p_jsonb_array: same bytes as construct_array"), false},
                  {BoolGetDatum(same_varlena(arr.value, ref_bytes)), false}});

    // SQL reads every element back equal to its JSON text parsed by jsonb_in,
    // and unnest hands out the very bytes that were built (the result tuple
    // may have shortened the header).
    Spi spi;
    spi.exec(
        "SELECT u.j, u.j OPERATOR(pg_catalog.=) CAST(u.t AS pg_catalog.jsonb)"
        "       AND CAST(u.j AS pg_catalog.text) OPERATOR(pg_catalog.=)"
        "           CAST(CAST(u.t AS pg_catalog.jsonb) AS pg_catalog.text)"
        "  FROM unnest($1::pg_catalog.jsonb[], $2::pg_catalog.text[])"
        "       WITH ORDINALITY AS u(j, t, i) ORDER BY u.i",
        {arr, p_text_array(texts)}, true);
    bool round_trip = spi.rows() == n;
    for (uint64_t r = 0; round_trip && r < spi.rows(); r++) {
        bool isnull = false;
        HeapTuple tup = SPI_tuptable->vals[r];
        TupleDesc desc = SPI_tuptable->tupdesc;
        Datum j = guarded([&] { return SPI_getbinval(tup, desc, 1, &isnull); });
        round_trip = !isnull && spi.get_bool(r, 1) && same_payload(j, varlenas[r]);
    }
    sink.put_row(
        {{text_datum("SELECT unnest($1::jsonb[]): " + std::to_string(n) + " documents round-trip"),
          false},
         {BoolGetDatum(round_trip), false}});
    return (Datum)0;
}

}  // namespace

CT4_FUNCTION(ct4_jsonb_writer_selftest, jsonb_writer_selftest)

#include "core/progress.hpp"

#include <gtest/gtest.h>

using ct4::core::duration_text;
using ct4::core::progress_text;
using ct4::core::ProgressPoint;

TEST(Progress, RateTimeLeftAndCountersOfTheMoment) {
    ProgressPoint p{"identity", 4000, 10000, "leads", 2.0};
    EXPECT_EQ(progress_text("reconcile_leads_pipeline", 12, p,
                            {{"processed", 4000}, {"newly_linked", 3100}}),
              "ct4 reconcile_leads_pipeline run 12: identity 4000/10000 leads (40 %), 2000 leads/s,"
              " about 3 s left | processed=4000 newly_linked=3100");
}

TEST(Progress, NoRateBeforeAnythingIsDone) {
    ProgressPoint p{"drivers", 0, 500, "persons", 0.5};
    EXPECT_EQ(progress_text("j", 1, p, {}), "ct4 j run 1: drivers 0/500 persons (0 %) |");
}

TEST(Progress, AFinishedPhaseSaysDone) {
    ProgressPoint p{"deciding", 30000, 30000, "drivers", 1.5};
    EXPECT_EQ(progress_text("j", 2, p, {{"claims_should_exist", 7}}),
              "ct4 j run 2: deciding 30000/30000 drivers (100 %), 20000 drivers/s, done |"
              " claims_should_exist=7");
}

TEST(Progress, AnUnmeasuredPhaseShowsOnlyItsName) {
    ProgressPoint p{"writing", 0, 0, "", 0};
    EXPECT_EQ(progress_text("j", 3, p, {{"processed", 2}}), "ct4 j run 3: writing | processed=2");
}

TEST(Progress, Durations) {
    EXPECT_EQ(duration_text(44.6), "45 s");
    EXPECT_EQ(duration_text(200), "3 min 20 s");
    EXPECT_EQ(duration_text(7500), "2 h 5 min");
    EXPECT_EQ(duration_text(-1), "0 s");
}

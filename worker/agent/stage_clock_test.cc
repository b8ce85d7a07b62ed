#include "worker/agent/stage_clock.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(StageClockTest, TimesEachStageUntilTheNextOrTheEnd) {
  absl::Time now = absl::UnixEpoch();
  std::vector<std::pair<std::string, double>> finished;
  StageClock clock(
      [&](absl::string_view stage, double seconds) {
        finished.emplace_back(std::string(stage), seconds);
      },
      [&] { return now; });
  clock.Observe("load");
  now += absl::Seconds(2);
  clock.Observe("quantize");
  now += absl::Seconds(5);
  clock.Observe("quantize");  // Same stage: still running.
  now += absl::Seconds(5);
  clock.Observe("");  // No stage named: ignored.
  clock.Observe("evaluate");
  now += absl::Milliseconds(500);
  clock.Finish();
  clock.Finish();  // Nothing left to close.
  EXPECT_THAT(finished, ElementsAre(Pair("load", 2.0), Pair("quantize", 10.0),
                                    Pair("evaluate", 0.5)));
}

}  // namespace
}  // namespace quantd::agent

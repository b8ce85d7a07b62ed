#include "server/api/request_limits.h"

#include <string>

#include "common/status.h"
#include "gtest/gtest.h"
#include "quantd/v1/jobs.pb.h"

namespace quantd::api {
namespace {

quantd::v1::SubmitJobRequest Request() {
  quantd::v1::SubmitJobRequest request;
  request.set_request_id("r1");
  request.mutable_spec()->set_method("rtn");
  request.mutable_spec()->mutable_model()->set_uri("file:///models/m.gguf");
  (*request.mutable_spec()->mutable_labels())["team"] = "nlp";
  return request;
}

TEST(RequestLimitsTest, AcceptsAnOrdinaryRequest) {
  EXPECT_TRUE(CheckMessageLimits(Request(), MessageLimits()).ok());
}

TEST(RequestLimitsTest, NamesTheLongString) {
  auto request = Request();
  request.mutable_spec()->set_method(std::string(5000, 'x'));
  absl::Status status = CheckMessageLimits(request, MessageLimits());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOfError(status), "spec.method");
}

TEST(RequestLimitsTest, NamesTheMapOfALongLabel) {
  auto request = Request();
  (*request.mutable_spec()->mutable_labels())["k"] = std::string(5000, 'v');
  EXPECT_EQ(FieldOfError(CheckMessageLimits(request, MessageLimits())),
            "spec.labels");
}

TEST(RequestLimitsTest, CountsRepeatedEntries) {
  quantd::v1::ListJobsRequest request;
  for (int i = 0; i < 5; ++i) request.add_states(quantd::v1::JOB_STATE_QUEUED);
  MessageLimits limits;
  limits.max_entries = 4;
  absl::Status status = CheckMessageLimits(request, limits);
  EXPECT_EQ(FieldOfError(status), "states");
  limits.max_entries = 5;
  EXPECT_TRUE(CheckMessageLimits(request, limits).ok());
}

TEST(RequestLimitsTest, BoundsStructNesting) {
  auto request = Request();
  google::protobuf::Struct* level =
      request.mutable_spec()->mutable_method_params();
  for (int i = 0; i < 40; ++i) {
    level = (*level->mutable_fields())["x"].mutable_struct_value();
  }
  absl::Status status = CheckMessageLimits(request, MessageLimits());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(status.message()).find("nested deeper"),
            std::string::npos);
}

TEST(RequestLimitsTest, BoundsTheWholeRequest) {
  auto request = Request();
  MessageLimits limits;
  limits.max_request_bytes = 16;
  EXPECT_EQ(FieldOfError(CheckMessageLimits(request, limits)), "request");
}

TEST(RequestLimitsTest, IgnoresBytesFields) {
  quantd::v1::UploadBlobChunk chunk;
  chunk.set_data(std::string(10000, 'd'));
  EXPECT_TRUE(CheckMessageLimits(chunk, MessageLimits()).ok());
}

}  // namespace
}  // namespace quantd::api

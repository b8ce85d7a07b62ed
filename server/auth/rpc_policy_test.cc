#include "server/auth/rpc_policy.h"

#include <string>

#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "quantd/v1/jobs.pb.h"
#include "quantd/v1/worker.pb.h"

namespace quantd::auth {
namespace {

// The services of the files that define SubmitJobRequest and
// LeaseJobRequest (naming a message links its file in).
std::vector<std::string> MethodsOf(const std::string& service) {
  const google::protobuf::FileDescriptor* files[] = {
      quantd::v1::SubmitJobRequest::descriptor()->file(),
      quantd::v1::LeaseJobRequest::descriptor()->file()};
  const google::protobuf::ServiceDescriptor* descriptor = nullptr;
  for (const auto* file : files) {
    if (descriptor == nullptr) descriptor = file->FindServiceByName(service);
  }
  std::vector<std::string> names;
  if (descriptor == nullptr) return names;
  for (int i = 0; i < descriptor->method_count(); ++i) {
    names.push_back(service + "." + descriptor->method(i)->name());
  }
  return names;
}

TEST(RpcPolicyTest, EveryJobServiceRpcHasAPolicyWithoutWorkers) {
  auto methods = MethodsOf("JobService");
  ASSERT_GE(methods.size(), 9u);
  for (const std::string& rpc : methods) {
    auto roles = AllowedRoles(rpc);
    ASSERT_TRUE(roles.has_value()) << rpc << " has no access policy";
    EXPECT_TRUE(roles->Has(Role::kAdmin)) << rpc;
    EXPECT_FALSE(IsWorkerRpc(rpc)) << rpc;
    // Only blob downloads (a job's inputs) are open to workers.
    EXPECT_EQ(roles->Has(Role::kWorker), rpc == "JobService.DownloadArtifact")
        << rpc;
  }
}

TEST(RpcPolicyTest, WorkerGatewayIsForWorkersOnly) {
  auto methods = MethodsOf("WorkerGateway");
  ASSERT_GE(methods.size(), 6u);
  for (const std::string& rpc : methods) {
    auto roles = AllowedRoles(rpc);
    ASSERT_TRUE(roles.has_value()) << rpc << " has no access policy";
    EXPECT_EQ(*roles, RoleSet{Role::kWorker}) << rpc;
    EXPECT_TRUE(IsWorkerRpc(rpc));
  }
}

TEST(RpcPolicyTest, SubmitAndReadAreSeparate) {
  EXPECT_FALSE(AllowedRoles("JobService.SubmitJob")->Has(Role::kRead));
  EXPECT_FALSE(AllowedRoles("JobService.GetJob")->Has(Role::kSubmit));
  EXPECT_TRUE(AllowedRoles("JobService.CancelJob")->Has(Role::kSubmit));
  EXPECT_FALSE(AllowedRoles("JobService.Nope").has_value());
}

TEST(RpcPolicyTest, StateChangingCallsAreMarked) {
  EXPECT_TRUE(ChangesState("JobService.SubmitJob"));
  EXPECT_TRUE(ChangesState("JobService.CancelJob"));
  EXPECT_TRUE(ChangesState("JobService.UploadBlob"));
  EXPECT_TRUE(ChangesState("WorkerGateway.CompleteJob"));
  EXPECT_FALSE(ChangesState("JobService.GetJob"));
  EXPECT_FALSE(ChangesState("JobService.Nope"));
}

TEST(RolesTest, ParsesAndPrints) {
  EXPECT_EQ(*ParseRole("worker"), Role::kWorker);
  EXPECT_FALSE(ParseRole("root").ok());
  EXPECT_EQ((RoleSet{Role::kRead, Role::kSubmit}).ToString(), "submit,read");
  EXPECT_TRUE(IsValidTenant("acme-1.prod_x"));
  EXPECT_FALSE(IsValidTenant(""));
  EXPECT_FALSE(IsValidTenant("*"));
  EXPECT_FALSE(IsValidTenant(".."));
  EXPECT_FALSE(IsValidTenant("-x"));
  EXPECT_FALSE(IsValidTenant(std::string(64, 'a')));
}

}  // namespace
}  // namespace quantd::auth

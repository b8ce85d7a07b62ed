#include "server/tenancy/input_sandbox.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/status.h"
#include "gtest/gtest.h"

namespace quantd::tenancy {
namespace {

namespace fs = std::filesystem;

class InputSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "quantd-sandbox-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = fs::canonical(pattern);
    for (const char* sub : {"shared", "tenants/acme", "tenants/beta", "etc"}) {
      fs::create_directories(dir_ / sub);
    }
    for (const char* file : {"shared/m.gguf", "tenants/acme/a.gguf",
                             "tenants/beta/b.gguf", "etc/secret"}) {
      std::ofstream(dir_ / file) << "x";
    }
    fs::create_directory_symlink(dir_ / "tenants/beta",
                                 dir_ / "tenants/acme/to-beta");
    auto sandbox = InputSandbox::Create(
        {(dir_ / "shared").string(), (dir_ / "tenants/{tenant}").string()});
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = *sandbox;
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::Status Check(const std::string& path, const std::string& tenant) {
    quantd::v1::JobSpec spec;
    spec.mutable_model()->set_uri("file://" + path);
    return sandbox_.Check(spec, tenant);
  }
  std::string P(const std::string& sub) { return (dir_ / sub).string(); }

  fs::path dir_;
  InputSandbox sandbox_;
};

TEST_F(InputSandboxTest, AcceptsPathsInsideTheRoots) {
  EXPECT_TRUE(Check(P("shared/m.gguf"), "acme").ok());
  EXPECT_TRUE(Check(P("tenants/acme/a.gguf"), "acme").ok());
  EXPECT_TRUE(Check(P("shared//m.gguf"), "acme").ok());
}

TEST_F(InputSandboxTest, RefusesTraversalAndOddSegments) {
  for (const std::string& path :
       {P("shared/../etc/secret"), P("shared/./m.gguf"), std::string("rel"),
        P("shared/a\nb")}) {
    absl::Status status = Check(path, "acme");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_EQ(FieldOfError(status), "model.uri") << path;
  }
}

TEST_F(InputSandboxTest, OutsideIsRefusedAlikeWhetherOrNotItExists) {
  absl::Status exists = Check(P("etc/secret"), "acme");
  absl::Status missing = Check(P("etc/nothing"), "acme");
  EXPECT_EQ(exists.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(exists.message(), missing.message());
  EXPECT_EQ(Check("/etc/passwd", "acme").message(), exists.message());
}

TEST_F(InputSandboxTest, TenantRootsKeepTenantsApart) {
  EXPECT_FALSE(Check(P("tenants/beta/b.gguf"), "acme").ok());
  EXPECT_TRUE(Check(P("tenants/beta/b.gguf"), "beta").ok());
  // A symlink inside acme's directory into beta's is followed and refused.
  absl::Status status = Check(P("tenants/acme/to-beta/b.gguf"), "acme");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(status.message()).find("outside the allowed roots"),
            std::string::npos);
}

TEST_F(InputSandboxTest, SchedulerRootsCutTemplatesAtTheTenant) {
  auto roots = sandbox_.SchedulerRoots();
  ASSERT_EQ(roots.size(), 2u);
  EXPECT_EQ(roots[0], P("shared"));
  EXPECT_EQ(roots[1], P("tenants"));
}

TEST_F(InputSandboxTest, RejectsMalformedTemplates) {
  for (const std::string& root :
       {std::string("/srv/x{tenant}"), std::string("/srv/{tenant}/{tenant}"),
        std::string("/srv/{team}"), std::string("relative/{tenant}")}) {
    auto sandbox = InputSandbox::Create({root});
    EXPECT_FALSE(sandbox.ok()) << root;
  }
}

TEST_F(InputSandboxTest, LeavesBlobsAndOtherFieldsAlone) {
  quantd::v1::JobSpec spec;
  spec.mutable_model()->set_blob("sha256:abc");
  spec.mutable_calibration()->mutable_dataset()->set_uri("file:///etc/x");
  absl::Status status = sandbox_.Check(spec, "acme");
  EXPECT_EQ(FieldOfError(status), "calibration.dataset.uri");
}

}  // namespace
}  // namespace quantd::tenancy

#include "server/tenancy/tenant_storage.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"

namespace quantd::tenancy {
namespace {

constexpr uint32_t kPageSize = 500;

}  // namespace

std::vector<std::pair<std::string, std::string>> BlobRefsOf(
    const quantd::v1::JobSpec& spec) {
  const std::pair<const quantd::v1::DataRef*, const char*> refs[] = {
      {&spec.model(), "model.blob"},
      {&spec.calibration().dataset(), "calibration.dataset.blob"},
      {&spec.evaluation().dataset(), "evaluation.dataset.blob"}};
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [ref, field] : refs) {
    if (ref->has_blob()) out.emplace_back(field, ref->blob());
  }
  return out;
}

TenantStorage::TenantStorage(store::JobStore* store,
                             artifacts::BlobStore* blobs,
                             StorageOptions options)
    : store_(store), blobs_(blobs), options_(options) {}

void TenantStorage::RecordUpload(const std::string& tenant,
                                 const std::string& hex, uint64_t size_bytes) {
  absl::MutexLock lock(&mu_);
  auto& mine = pending_[tenant];
  mine[hex] = Pending{size_bytes, absl::Now(), next_sequence_++};
  while (mine.size() > options_.max_pending_per_tenant) {
    auto oldest = mine.begin();
    for (auto it = mine.begin(); it != mine.end(); ++it) {
      if (it->second.sequence < oldest->second.sequence) oldest = it;
    }
    mine.erase(oldest);
  }
}

std::map<std::string, TenantStorage::Pending> TenantStorage::PendingOf(
    const std::string& tenant) {
  const absl::Time cutoff = absl::Now() - options_.pending;
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(tenant);
  if (it == pending_.end()) return {};
  std::erase_if(it->second,
                [&](const auto& entry) { return entry.second.time < cutoff; });
  return it->second;
}

absl::StatusOr<std::map<std::string, uint64_t>> TenantStorage::UsedBlobs(
    const std::string& tenant, const std::string& wanted) {
  std::map<std::string, uint64_t> used;
  store::JobQuery query;
  query.tenant = tenant;
  query.ascending = true;
  query.limit = kPageSize;
  while (true) {
    QUANTD_ASSIGN_OR_RETURN(std::vector<store::JobRecord> jobs,
                            store_->ListJobs(query));
    for (const store::JobRecord& job : jobs) {
      quantd::v1::JobSpec spec;
      spec.ParseFromString(job.spec);
      for (const auto& [field, ref] : BlobRefsOf(spec)) {
        auto hex = ParseBlobRef(ref, field);
        if (!hex.ok()) continue;
        auto size = blobs_->SizeOf(*hex);
        used[*hex] = size.ok() ? *size : 0;
      }
      QUANTD_ASSIGN_OR_RETURN(auto artifacts, store_->ListArtifacts(job.id));
      for (const store::ArtifactRecord& artifact : artifacts) {
        used[artifact.blob] = artifact.size_bytes;
      }
      if (!wanted.empty() && used.count(wanted) > 0) return used;
    }
    if (jobs.size() < kPageSize) return used;
    query.after_id = jobs.back().id;
  }
}

absl::Status TenantStorage::CheckUse(const std::string& tenant,
                                     const std::string& hex,
                                     const std::string& field) {
  if (PendingOf(tenant).count(hex) > 0) return absl::OkStatus();
  QUANTD_ASSIGN_OR_RETURN(auto used, UsedBlobs(tenant, hex));
  if (used.count(hex) > 0) return absl::OkStatus();
  return InvalidFieldError(field,
                           "no such blob; upload it with UploadBlob first");
}

absl::Status TenantStorage::CheckQuota(const std::string& tenant,
                                       const std::string& hex,
                                       uint64_t size_bytes) {
  const uint64_t quota = options_.max_stored_bytes_per_tenant;
  if (quota == 0) return absl::OkStatus();
  QUANTD_ASSIGN_OR_RETURN(auto used, UsedBlobs(tenant, ""));
  for (const auto& [hex, pending] : PendingOf(tenant)) {
    used.emplace(hex, pending.size_bytes);
  }
  if (!hex.empty() && used.count(hex) > 0) return absl::OkStatus();
  const uint64_t extra_bytes = size_bytes;
  uint64_t stored = 0;
  for (const auto& [hex, size] : used) stored += size;
  const bool over =
      extra_bytes == 0 ? stored >= quota : stored + extra_bytes > quota;
  if (!over) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "quota limits.max_stored_bytes_per_tenant: tenant \"", tenant,
      "\" stores ", stored, " bytes", extra_bytes ? " and uploads " : "",
      extra_bytes ? absl::StrCat(extra_bytes, " more") : "", "; the limit is ",
      quota, " bytes"));
}

absl::Status TenantStorage::CheckJob(const std::string& tenant,
                                     const quantd::v1::JobSpec& spec) {
  QUANTD_RETURN_IF_ERROR(options_.sandbox.Check(spec, tenant));
  if (options_.scope_blobs) {
    for (const auto& [field, ref] : BlobRefsOf(spec)) {
      QUANTD_ASSIGN_OR_RETURN(std::string hex, ParseBlobRef(ref, field));
      QUANTD_RETURN_IF_ERROR(CheckUse(tenant, hex, field));
    }
  }
  return CheckQuota(tenant, "", 0);
}

}  // namespace quantd::tenancy

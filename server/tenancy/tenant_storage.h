// TenantStorage: the per-tenant view of content-addressed blobs that the
// shared blob store lacks, and the tenancy rules a new job must pass
// (CheckJob, the scheduler's submit policy). It answers two questions:
//
// - May this tenant name blob X in a job? Yes when the tenant uploaded X
//   (remembered in memory for `pending_seconds`, the blob retention) or one
//   of its jobs already uses X as an input or artifact. Otherwise the
//   answer is the scheduler's own "no such blob" error, so a blob hash
//   learnt elsewhere neither works nor reveals that the blob exists.
// - Does the tenant stay within limits.max_stored_bytes_per_tenant? Its
//   stored bytes are the distinct blobs its jobs use plus its pending
//   uploads.
//
// Both read the tenant's jobs from the store (one ListArtifacts per job),
// so they cost O(jobs of the tenant); the quota scan runs only when a quota
// is set. Uploads remembered in memory are per process: after a restart, or
// on another replica, a tenant uploads again (an upload of a stored blob
// transfers and hashes the bytes but writes nothing).
//
// Ownership: borrows the store and blob store. Thread-safety: safe from
// any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "quantd/v1/types.pb.h"
#include "server/artifacts/blob_store.h"
#include "server/store/job_store.h"
#include "server/tenancy/input_sandbox.h"

namespace quantd::tenancy {

// The DataRef fields of a spec that name an uploaded blob: (field,
// "sha256:<hex>") for model.blob, calibration.dataset.blob and
// evaluation.dataset.blob.
std::vector<std::pair<std::string, std::string>> BlobRefsOf(
    const quantd::v1::JobSpec& spec);

struct StorageOptions {
  // Quota on a tenant's stored bytes; 0: none. Default 0.
  uint64_t max_stored_bytes_per_tenant = 0;
  // How long an upload counts as the tenant's before a job uses it.
  // Default 86400 s (the blob retention).
  absl::Duration pending = absl::Hours(24);
  // Uploads remembered per tenant; the oldest is forgotten first.
  size_t max_pending_per_tenant = 10000;
  // Confines a new job's file:// inputs. Default: no roots (none allowed).
  InputSandbox sandbox;
  // A new job may name only the tenant's own blobs (CheckUse): set when
  // authentication is on. Default false.
  bool scope_blobs = false;
};

class TenantStorage {
 public:
  TenantStorage(store::JobStore* store, artifacts::BlobStore* blobs,
                StorageOptions options);

  void RecordUpload(const std::string& tenant, const std::string& hex,
                    uint64_t size_bytes);
  // OK when `tenant` may use blob `hex`; else InvalidArgument on `field`
  // worded exactly like the scheduler's unknown-blob error.
  [[nodiscard]] absl::Status CheckUse(const std::string& tenant,
                                      const std::string& hex,
                                      const std::string& field);
  // ResourceExhausted naming the quota when the tenant's stored bytes plus
  // an upload of blob `hex` (`size_bytes`; free when the tenant already
  // stores it) exceed the quota. For a job (hex "", size 0), when they
  // already reach it: its artifacts will add more.
  [[nodiscard]] absl::Status CheckQuota(const std::string& tenant,
                                        const std::string& hex,
                                        uint64_t size_bytes);
  // A new job of `tenant`: the sandbox, its blobs (when scoped), the quota.
  [[nodiscard]] absl::Status CheckJob(const std::string& tenant,
                                      const quantd::v1::JobSpec& spec);

 private:
  struct Pending {
    uint64_t size_bytes;
    absl::Time time;
    // Order of recording, to forget the oldest first.
    uint64_t sequence;
  };
  // hex -> size of every blob the tenant's jobs use (stop early once
  // `wanted` is found, when given).
  absl::StatusOr<std::map<std::string, uint64_t>> UsedBlobs(
      const std::string& tenant, const std::string& wanted);
  std::map<std::string, Pending> PendingOf(const std::string& tenant);

  store::JobStore* const store_;
  artifacts::BlobStore* const blobs_;
  const StorageOptions options_;
  absl::Mutex mu_;
  std::map<std::string, std::map<std::string, Pending>> pending_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace quantd::tenancy

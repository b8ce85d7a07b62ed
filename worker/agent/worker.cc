#include "worker/agent/worker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "worker/agent/blob_download.h"
#include "worker/agent/heartbeat.h"

namespace quantd::agent {
namespace {

std::string RunnerKey(const std::string& job_id, uint64_t fencing_token) {
  return absl::StrCat(job_id, "/", fencing_token);
}

}  // namespace

Worker::Worker(WorkerOptions options,
               quantd::v1::WorkerCapabilities capabilities,
               GatewayClient& client, WorkerMetrics* metrics,
               std::function<uint64_t()> device_memory_used,
               std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)),
      capabilities_(std::move(capabilities)),
      client_(client),
      metrics_(metrics),
      device_memory_used_(std::move(device_memory_used)),
      log_(std::move(log)),
      heartbeat_interval_(options_.default_heartbeat_interval) {}

Worker::~Worker() {
  Stop();
  ReleaseAll();
}

void Worker::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  long_polls_.CancelAll();
  absl::MutexLock lock(&mu_);
  changed_ = true;
}

absl::Status Worker::Register() {
  quantd::v1::RegisterWorkerRequest request;
  request.set_worker_id(options_.worker_id);
  *request.mutable_capabilities() = capabilities_;
  request.mutable_capabilities()->set_max_concurrent_jobs(
      options_.max_concurrent_jobs);
  Backoff backoff(options_.reconnect);
  while (!stop_.HasBeenNotified()) {
    auto context = client_.NewContext();
    CallCanceller::Scope scope(long_polls_, *context);
    quantd::v1::RegisterWorkerResponse response;
    const absl::Status status = FromGrpc(
        client_.gateway().RegisterWorker(context.get(), request, &response));
    if (status.ok()) {
      if (response.heartbeat_interval_seconds() > 0) {
        heartbeat_interval_ =
            absl::Seconds(response.heartbeat_interval_seconds());
      }
      log_->info("registered worker={} heartbeat_seconds={} lease_timeout={}",
                 options_.worker_id, absl::ToDoubleSeconds(heartbeat_interval_),
                 response.lease_timeout_seconds());
      return absl::OkStatus();
    }
    const std::string& target = client_.options().target;
    if (!IsRetryable(status) && !stop_.HasBeenNotified()) {
      return Annotate(status, absl::StrCat("RegisterWorker with ", target));
    }
    // Under TLS a failed handshake is only UNAVAILABLE: naming the address
    // and the transport is what tells the operator where to look.
    log_->warn("RegisterWorker with {} failed, retrying: {}", target,
               status.ToString());
    backoff.Wait(&stop_);
  }
  return absl::OkStatus();
}

std::unique_ptr<Heartbeat> Worker::MakeHeartbeat() {
  HeartbeatHooks hooks{
      .held_leases = [this] { return HeldLeases(); },
      .on_response =
          [this](const quantd::v1::HeartbeatResponse& response) {
            OnHeartbeat(response);
          },
      .on_error =
          [this](const absl::Status& status) { OnHeartbeatError(status); },
      .device_memory_used = device_memory_used_};
  return std::make_unique<Heartbeat>(client_, options_.worker_id,
                                     heartbeat_interval_, std::move(hooks),
                                     metrics_, log_);
}

absl::Status Worker::Run() {
  QUANTD_RETURN_IF_ERROR(Register());
  std::unique_ptr<Heartbeat> heartbeat = MakeHeartbeat();
  heartbeat->Start();
  absl::Status result = absl::OkStatus();
  Backoff backoff(options_.reconnect);
  while (!stop_.HasBeenNotified() && result.ok()) {
    ReapFinished();
    if (TakeReregister()) result = Register();
    if (!result.ok()) break;
    if (!HasRoom()) {
      WaitForRoom();
      continue;
    }
    const absl::Status status = LeaseOnce();
    if (status.ok() || stop_.HasBeenNotified()) {
      backoff.Reset();
      continue;
    }
    if (status.code() == absl::StatusCode::kNotFound) {
      // The scheduler forgot this worker: announce it again.
      result = Register();
    } else if (!IsRetryable(status)) {
      result = Annotate(status, "LeaseJob");
    } else {
      log_->warn("LeaseJob from {} failed, retrying: {}",
                 client_.options().target, status.ToString());
      backoff.Wait(&stop_);
    }
  }
  ReleaseAll();
  heartbeat->Stop();
  return result;
}

absl::Status Worker::LeaseOnce() {
  const absl::Duration wait =
      std::clamp(options_.lease_wait, absl::ZeroDuration(), absl::Seconds(60));
  auto context = client_.NewContext(wait + client_.options().rpc_timeout);
  CallCanceller::Scope scope(long_polls_, *context);
  quantd::v1::LeaseJobRequest request;
  request.set_worker_id(options_.worker_id);
  request.set_wait_seconds(absl::ToDoubleSeconds(wait));
  quantd::v1::LeaseJobResponse response;
  QUANTD_RETURN_IF_ERROR(
      FromGrpc(client_.gateway().LeaseJob(context.get(), request, &response)));
  if (response.has_lease()) StartRunner(std::move(*response.mutable_lease()));
  return absl::OkStatus();
}

void Worker::StartRunner(quantd::v1::Lease lease) {
  const std::string job_id = lease.job().id();
  const uint64_t token = lease.fencing_token();
  log_->info("job={} leased attempt={} fencing_token={}", job_id,
             lease.job().attempt(), token);
  auto reporter = std::make_unique<GrpcJobReporter>(client_, job_id, token,
                                                    options_.reporter, log_);
  BlobFetcher fetch = [this](const std::string& blob, const std::string& dest,
                             absl::Notification* interrupt) {
    return DownloadBlob(client_, blob, dest, options_.download_retry,
                        interrupt);
  };
  auto runner = std::make_unique<JobRunner>(
      options_.runner, std::move(lease), std::move(reporter), std::move(fetch),
      metrics_, log_, [this] {
        absl::MutexLock lock(&mu_);
        changed_ = true;
      });
  JobRunner* started = runner.get();
  {
    absl::MutexLock lock(&mu_);
    runners_[RunnerKey(job_id, token)] = std::move(runner);
  }
  started->Start();
}

void Worker::ReapFinished() {
  std::vector<std::unique_ptr<JobRunner>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = runners_.begin(); it != runners_.end();) {
      if (it->second->done()) {
        finished.push_back(std::move(it->second));
        it = runners_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& runner : finished) runner->Join();
}

bool Worker::HasRoom() const {
  absl::MutexLock lock(&mu_);
  return runners_.size() < std::max<uint32_t>(1, options_.max_concurrent_jobs);
}

void Worker::WaitForRoom() {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&changed_), absl::Seconds(1));
  changed_ = false;
}

void Worker::ReleaseAll() {
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, runner] : runners_) runner->Release();
  }
  while (true) {
    ReapFinished();
    absl::MutexLock lock(&mu_);
    if (runners_.empty()) return;
    mu_.AwaitWithTimeout(absl::Condition(&changed_), absl::Seconds(1));
    changed_ = false;
  }
}

size_t Worker::running_jobs() const {
  absl::MutexLock lock(&mu_);
  return runners_.size();
}

std::vector<quantd::v1::HeldLease> Worker::HeldLeases() const {
  std::vector<quantd::v1::HeldLease> leases;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, runner] : runners_) {
    if (runner->done()) continue;
    quantd::v1::HeldLease& lease = leases.emplace_back();
    lease.set_job_id(runner->job_id());
    lease.set_fencing_token(runner->fencing_token());
  }
  return leases;
}

void Worker::OnHeartbeat(const quantd::v1::HeartbeatResponse& response) {
  absl::MutexLock lock(&mu_);
  for (auto& [key, runner] : runners_) {
    const std::string& id = runner->job_id();
    auto named = [&id](const auto& ids) {
      return std::find(ids.begin(), ids.end(), id) != ids.end();
    };
    if (named(response.revoked_job_ids())) {
      runner->Revoke();
    } else if (named(response.cancel_job_ids())) {
      runner->Cancel();
    }
  }
}

void Worker::OnHeartbeatError(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kNotFound) return;
  // The scheduler forgot this worker; the lease loop registers it again.
  absl::MutexLock lock(&mu_);
  reregister_ = true;
  changed_ = true;
}

bool Worker::TakeReregister() {
  absl::MutexLock lock(&mu_);
  return std::exchange(reregister_, false);
}

}  // namespace quantd::agent

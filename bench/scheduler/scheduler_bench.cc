// Benchmark of the quantd scheduler daemon, end to end over gRPC on
// loopback against a real quantd process (no engine; a fake worker):
//
//   1. submit throughput: N SubmitJob calls from C client threads;
//   2. submit -> lease latency (p50/p99) of probe jobs while 1,000 jobs wait
//      in the queue, (a) probes at a higher priority, (b) probes behind
//      1,000 queued jobs that no worker can take (the claim must skip them);
//   3. 200 concurrent WatchJob streams on running jobs: event delivery
//      latency (p50/p99) and the daemon's thread count while they are open;
//   4. the daemon's RSS after each phase.
//
//   quantd_scheduler_bench --quantd build/server/quantd [--submits 1000]
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "quantd/v1/jobs.grpc.pb.h"
#include "quantd/v1/worker.grpc.pb.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace v1 = quantd::v1;
using Clock = std::chrono::steady_clock;

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index =
      std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

// quantd with ephemeral ports under `dir`; killed on destruction.
class Daemon {
 public:
  Daemon(const std::string& binary, const fs::path& dir,
         const std::string& synchronous) {
    fs::create_directories(dir / "models/tiny");
    std::ofstream(dir / "models/tiny/config.json")
        << R"({"hidden_size": 64, "intermediate_size": 128})";
    const fs::path ports = dir / "ports";
    std::vector<std::string> args = {
        binary,
        "--listen=127.0.0.1:0",
        "--metrics_listen=127.0.0.1:0",
        "--data_dir=" + (dir / "data").string(),
        "--port_file=" + ports.string(),
        "--allowed-root=" + (dir / "models").string(),
        "--store.sqlite_synchronous=" + synchronous,
        "--limits.max_queued_per_tenant=0",
        "--log.levels=warn"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(),
                    environ) != 0) {
      throw std::runtime_error("cannot start " + binary);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline && port_ == 0) {
      std::ifstream in(ports);
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("grpc=", 0) == 0) port_ = std::stoi(line.substr(5));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (port_ == 0) throw std::runtime_error("quantd did not start");
    model_uri_ = "file://" + (dir / "models/tiny").string();
  }
  ~Daemon() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  std::shared_ptr<grpc::Channel> Channel() const {
    grpc::ChannelArguments arguments;
    arguments.SetInt("grpc.use_local_subchannel_pool", 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                     grpc::InsecureChannelCredentials(),
                                     arguments);
  }
  // "VmRSS" or "VmHWM" in MiB, or "Threads".
  long Status(const std::string& key) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(key + ":", 0) != 0) continue;
      std::istringstream fields(line.substr(key.size() + 1));
      long value = 0;
      fields >> value;
      return key == "Threads" ? value : value / 1024;
    }
    return -1;
  }
  const std::string& model_uri() const { return model_uri_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string model_uri_;
};

v1::SubmitJobRequest Request(const Daemon& daemon, const std::string& id,
                             const std::string& method, int priority) {
  v1::SubmitJobRequest request;
  request.set_request_id(id);
  auto* spec = request.mutable_spec();
  spec->mutable_model()->set_uri(daemon.model_uri());
  spec->set_method(method);
  spec->mutable_scheme()->set_preset("w8a8");
  spec->mutable_calibration()->set_n_samples(4);
  spec->mutable_calibration()->set_seq_len(64);
  spec->set_priority(priority);
  return request;
}

std::string Submit(v1::JobService::Stub& stub, const v1::SubmitJobRequest& r) {
  grpc::ClientContext context;
  v1::Job job;
  grpc::Status status = stub.SubmitJob(&context, r, &job);
  if (!status.ok())
    throw std::runtime_error("submit: " + status.error_message());
  return job.id();
}

void Register(v1::WorkerGateway::Stub& stub, const std::string& id,
              uint32_t max_jobs) {
  grpc::ClientContext context;
  v1::RegisterWorkerRequest request;
  request.set_worker_id(id);
  request.mutable_capabilities()->add_methods("rtn");
  request.mutable_capabilities()->set_host_memory_bytes(1ull << 40);
  request.mutable_capabilities()->set_max_concurrent_jobs(max_jobs);
  v1::RegisterWorkerResponse response;
  stub.RegisterWorker(&context, request, &response);
}

double SubmitThroughput(const Daemon& daemon, int submits, int clients) {
  std::atomic<int> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto stub = v1::JobService::NewStub(daemon.Channel());
      for (int i = next++; i < submits; i = next++) {
        Submit(*stub,
               Request(daemon, "t-" + std::to_string(i), "omniquant", 0));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return submits / std::chrono::duration<double>(Clock::now() - start).count();
}

// Sequential probes: submit, then wait until the long-polling worker holds
// it; returns the latencies in ms.
std::vector<double> LeaseLatency(const Daemon& daemon, int probes, int priority,
                                 const std::string& tag) {
  auto jobs = v1::JobService::NewStub(daemon.Channel());
  auto workers = v1::WorkerGateway::NewStub(daemon.Channel());
  Register(*workers, "bench-" + tag, 1);
  std::vector<double> latencies;
  for (int i = 0; i < probes; ++i) {
    const auto start = Clock::now();
    std::thread submitter([&] {
      Submit(*jobs, Request(daemon, tag + std::to_string(i), "rtn", priority));
    });
    grpc::ClientContext context;
    v1::LeaseJobRequest request;
    request.set_worker_id("bench-" + tag);
    request.set_wait_seconds(10);
    v1::LeaseJobResponse response;
    workers->LeaseJob(&context, request, &response);
    latencies.push_back(Millis(Clock::now() - start));
    submitter.join();
    grpc::ClientContext done_context;
    v1::CompleteJobRequest done;
    done.set_job_id(response.lease().job().id());
    done.set_fencing_token(response.lease().fencing_token());
    done.set_state(v1::JOB_STATE_SUCCEEDED);
    v1::CompleteJobResponse done_response;
    workers->CompleteJob(&done_context, done, &done_response);
  }
  return latencies;
}

struct WatchFigures {
  std::vector<double> latencies_ms;
  long threads_open = 0;
  long events_missing = 0;
};

WatchFigures Watchers(const Daemon& daemon, int watchers, int events) {
  auto jobs = v1::JobService::NewStub(daemon.Channel());
  auto workers = v1::WorkerGateway::NewStub(daemon.Channel());
  Register(*workers, "bench-watch", static_cast<uint32_t>(watchers));
  std::vector<v1::Lease> leases;
  for (int i = 0; i < watchers; ++i) {
    Submit(*jobs, Request(daemon, "w-" + std::to_string(i), "rtn", 100));
    grpc::ClientContext context;
    v1::LeaseJobRequest request;
    request.set_worker_id("bench-watch");
    request.set_wait_seconds(5);
    v1::LeaseJobResponse response;
    workers->LeaseJob(&context, request, &response);
    leases.push_back(response.lease());
  }
  // Send time of event e to watcher w, in steady-clock nanoseconds.
  std::vector<std::atomic<int64_t>> sent(
      static_cast<size_t>(watchers * events));
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               Clock::now().time_since_epoch())
        .count();
  };
  std::mutex mu;
  WatchFigures figures;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < watchers; ++w) {
    threads.emplace_back([&, w] {
      auto stub = v1::JobService::NewStub(daemon.Channel());
      grpc::ClientContext context;
      v1::WatchJobRequest request;
      request.set_id(leases[static_cast<size_t>(w)].job().id());
      request.set_after_sequence(
          leases[static_cast<size_t>(w)].job().last_sequence());
      auto reader = stub->WatchJob(&context, request);
      ++ready;
      v1::JobEvent event;
      int got = 0;
      std::vector<double> local;
      while (got < events && reader->Read(&event)) {
        const int64_t at = sent[static_cast<size_t>(w * events + got)].load();
        local.push_back(static_cast<double>(now_ns() - at) / 1e6);
        ++got;
      }
      context.TryCancel();
      std::lock_guard<std::mutex> lock(mu);
      figures.latencies_ms.insert(figures.latencies_ms.end(), local.begin(),
                                  local.end());
      figures.events_missing += events - got;
    });
  }
  while (ready < watchers)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  figures.threads_open = daemon.Status("Threads");
  for (int e = 0; e < events; ++e) {
    for (int w = 0; w < watchers; ++w) {
      const v1::Lease& lease = leases[static_cast<size_t>(w)];
      sent[static_cast<size_t>(w * events + e)] = now_ns();
      grpc::ClientContext context;
      v1::ReportEventsResponse response;
      auto writer = workers->ReportEvents(&context, &response);
      v1::ReportEventsRequest report;
      report.set_job_id(lease.job().id());
      report.set_fencing_token(lease.fencing_token());
      report.add_events()->mutable_progress()->set_fraction(e / double(events));
      writer->Write(report);
      writer->WritesDone();
      writer->Finish();
    }
  }
  for (auto& thread : threads) thread.join();
  return figures;
}

void PrintLatency(const char* name, const std::vector<double>& values) {
  std::printf("%-44s p50 %8.2f ms   p99 %8.2f ms   (n=%zu)\n", name,
              Percentile(values, 0.50), Percentile(values, 0.99),
              values.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"quantd scheduler benchmark"};
  std::string binary;
  int submits = 1000, clients = 4, probes = 200, watchers = 200, events = 20;
  std::string synchronous = "full";
  app.add_option("--quantd", binary, "path of the quantd binary")->required();
  app.add_option("--submits", submits, "jobs submitted in phase 1");
  app.add_option("--clients", clients, "concurrent submitting clients");
  app.add_option("--probes", probes, "probe jobs per latency phase");
  app.add_option("--watchers", watchers, "concurrent WatchJob streams");
  app.add_option("--events", events, "events each watcher receives");
  app.add_option("--sqlite_synchronous", synchronous, "full or normal");
  CLI11_PARSE(app, argc, argv);

  const fs::path dir = fs::temp_directory_path() /
                       ("quantd_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  {
    Daemon daemon(binary, dir, synchronous);
    std::printf("quantd scheduler benchmark (sqlite synchronous=%s)\n",
                synchronous.c_str());
    std::printf("idle RSS %ld MiB, threads %ld\n", daemon.Status("VmRSS"),
                daemon.Status("Threads"));
    const double rate = SubmitThroughput(daemon, submits, clients);
    std::printf(
        "submit throughput (%d jobs, %d clients)         %8.0f jobs/s\n",
        submits, clients, rate);
    std::printf("RSS with %d queued jobs: %ld MiB\n", submits,
                daemon.Status("VmRSS"));
    PrintLatency("submit->lease, probes above queue (prio 10)",
                 LeaseLatency(daemon, probes, 10, "hi-"));
    PrintLatency("submit->lease, probes behind queue (prio 0)",
                 LeaseLatency(daemon, probes, -1, "lo-"));
    WatchFigures watch = Watchers(daemon, watchers, events);
    PrintLatency("event delivery to concurrent watchers", watch.latencies_ms);
    std::printf(
        "daemon threads with %d watchers open: %ld; events missing: %ld\n",
        watchers, watch.threads_open, watch.events_missing);
    std::printf("RSS after all phases: %ld MiB (peak %ld MiB)\n",
                daemon.Status("VmRSS"), daemon.Status("VmHWM"));
  }
  fs::remove_all(dir);
  return 0;
}

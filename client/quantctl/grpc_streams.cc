#include "client/quantctl/grpc_streams.h"

#include <memory>
#include <utility>

namespace quantd::client {
namespace {

// A server-streaming call: the context lives as long as the reader, and an
// unfinished call is cancelled on destruction.
template <typename Message, typename Interface>
class GrpcStream : public Interface {
 public:
  GrpcStream(Connection& connection,
             std::unique_ptr<grpc::ClientContext> context,
             std::unique_ptr<grpc::ClientReaderInterface<Message>> reader)
      : connection_(connection),
        context_(std::move(context)),
        reader_(std::move(reader)) {}

  ~GrpcStream() override {
    if (finished_) return;
    context_->TryCancel();
    Message drained;
    while (reader_->Read(&drained)) {
    }
    reader_->Finish().ok();
  }

  bool Read(Message* message) override { return reader_->Read(message); }

  absl::Status Finish() override {
    finished_ = true;
    return connection_.FromGrpc(reader_->Finish());
  }

 private:
  Connection& connection_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderInterface<Message>> reader_;
  bool finished_ = false;
};

}  // namespace

EventStreamOpener WatchJobOpener(Connection& connection, std::string job_id) {
  return [&connection, job_id = std::move(job_id)](uint64_t after_sequence) {
    quantd::v1::WatchJobRequest request;
    request.set_id(job_id);
    request.set_after_sequence(after_sequence);
    auto context = connection.NewContext();
    auto reader = connection.jobs().WatchJob(context.get(), request);
    return std::unique_ptr<EventStream>(
        new GrpcStream<quantd::v1::JobEvent, EventStream>(
            connection, std::move(context), std::move(reader)));
  };
}

ChunkStreamOpener DownloadOpener(Connection& connection, std::string job_id,
                                 std::string name) {
  return [&connection, job_id = std::move(job_id),
          name = std::move(name)](uint64_t offset) {
    quantd::v1::DownloadArtifactRequest request;
    request.set_job_id(job_id);
    request.set_name(name);
    request.set_offset(offset);
    auto context = connection.NewContext();
    auto reader = connection.jobs().DownloadArtifact(context.get(), request);
    return std::unique_ptr<ChunkStream>(
        new GrpcStream<quantd::v1::DownloadArtifactChunk, ChunkStream>(
            connection, std::move(context), std::move(reader)));
  };
}

}  // namespace quantd::client

#include "server/api/blob_transfer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"
#include "server/api/request_limits.h"
#include "server/api/status_mapping.h"

namespace quantd::api {
namespace {

constexpr char kUploadBlob[] = "JobService.UploadBlob";
constexpr char kUploadArtifact[] = "WorkerGateway.UploadArtifact";

// Re-roots an INVALID_ARGUMENT's field at `parent`, for checks that name
// fields of a sub-message ("job_id" of the header is "header.job_id"); a
// whole-message error ("request: ...") becomes `parent`'s.
absl::Status Under(const std::string& parent, const absl::Status& status) {
  const std::string field = FieldOfError(status);
  if (field.empty()) return status;
  const absl::string_view reason = status.message().substr(field.size() + 2);
  return InvalidFieldError(
      field == "request" ? parent : absl::StrCat(parent, ".", field), reason);
}

}  // namespace

absl::Status UploadSession::Begin(const std::string& ref, uint64_t size_bytes,
                                  const std::string& field) {
  field_ = field;
  QUANTD_ASSIGN_OR_RETURN(hex_, ParseBlobRef(ref, field + ".blob"));
  if (size_bytes > max_bytes_) {
    return InvalidFieldError(field + ".size_bytes",
                             absl::StrCat("larger than the server's limit of ",
                                          max_bytes_, " bytes"));
  }
  size_bytes_ = size_bytes;
  started_ = true;
  if (blobs_->Contains(hex_)) {
    verify_ = std::make_unique<Sha256>();
    return absl::OkStatus();
  }
  QUANTD_ASSIGN_OR_RETURN(writer_, blobs_->NewWriter(hex_, size_bytes));
  return absl::OkStatus();
}

absl::Status UploadSession::Append(const std::string& data) {
  if (data.size() > size_bytes_ - received_) {
    return InvalidFieldError(
        field_ + ".size_bytes",
        absl::StrCat("more data than the declared ", size_bytes_, " bytes"));
  }
  received_ += data.size();
  if (writer_ == nullptr) {
    verify_->Update(data);
    return absl::OkStatus();
  }
  return Under(field_, writer_->Append(data));
}

absl::StatusOr<bool> UploadSession::Commit() {
  if (writer_ == nullptr) {
    if (received_ != size_bytes_) {
      return InvalidFieldError(field_ + ".size_bytes",
                               absl::StrCat("declared ", size_bytes_,
                                            " bytes, received ", received_));
    }
    // Worded like BlobWriter's mismatch: the caller cannot tell whether
    // the blob was stored.
    const std::string actual = verify_->FinishHex();
    if (actual != hex_) {
      return absl::DataLossError(absl::StrCat("blob: declared sha256:", hex_,
                                              ", received sha256:", actual));
    }
    return true;
  }
  auto result = writer_->Commit();
  writer_.reset();
  if (!result.ok()) return Under(field_, result.status());
  return result;
}

DownloadReactor::DownloadReactor(
    grpc::CallbackServerContext* context, spdlog::logger* log,
    HandlerPool* pool, artifacts::BlobStore* blobs,
    std::function<absl::StatusOr<DownloadPlan>()> plan)
    : context_(context), log_(log), pool_(pool), blobs_(blobs) {
  const absl::Status posted = pool_->Post([this, plan = std::move(plan)] {
    auto planned = plan();
    if (!planned.ok()) {
      Fail(planned.status());
      return;
    }
    plan_ = std::move(*planned);
    WriteNext();
  });
  if (!posted.ok()) Fail(posted);
}

void DownloadReactor::Fail(const absl::Status& status) {
  Finish(Reply(context_, status, *log_, "DownloadArtifact"));
}

void DownloadReactor::WriteNext() {
  // Always at least one chunk, so even an empty remainder carries the size
  // and hash.
  if (sent_any_ && plan_.offset >= plan_.total_size) {
    Finish(grpc::Status::OK);
    return;
  }
  auto data = blobs_->Read(plan_.hex, plan_.offset, plan_.chunk_bytes);
  if (!data.ok()) {
    Finish(ToGrpcStatus(data.status()));
    return;
  }
  chunk_.Clear();
  chunk_.set_offset(plan_.offset);
  chunk_.set_total_size_bytes(plan_.total_size);
  chunk_.set_blob(BlobRef(plan_.hex));
  plan_.offset += data->size();
  *chunk_.mutable_data() = std::move(*data);
  sent_any_ = true;
  StartWrite(&chunk_);
}

void DownloadReactor::OnWriteDone(bool ok) {
  if (!ok) {
    Finish(grpc::Status::CANCELLED);
    return;
  }
  const absl::Status posted = pool_->Post([this] { WriteNext(); });
  if (!posted.ok()) Fail(posted);
}

absl::Status CheckDownloadRequest(
    const quantd::v1::DownloadArtifactRequest& request) {
  if (!request.blob().empty()) return absl::OkStatus();
  if (request.job_id().empty()) {
    return InvalidFieldError("job_id",
                             "required with name, unless blob is set; "
                             "neither job_id nor blob is set");
  }
  if (request.name().empty()) {
    return InvalidFieldError("name", "required with job_id");
  }
  return absl::OkStatus();
}

absl::StatusOr<DownloadPlan> PlanDownload(
    scheduler::Scheduler* scheduler, artifacts::BlobStore* blobs,
    const scheduler::Caller& caller,
    const quantd::v1::DownloadArtifactRequest& request,
    const TransferOptions& options) {
  QUANTD_RETURN_IF_ERROR(CheckDownloadRequest(request));
  std::string hex;
  if (!request.blob().empty()) {
    QUANTD_ASSIGN_OR_RETURN(hex, ParseBlobRef(request.blob(), "blob"));
  } else {
    QUANTD_ASSIGN_OR_RETURN(auto artifacts,
                            scheduler->ListArtifacts(caller, request.job_id()));
    for (const auto& artifact : artifacts) {
      if (artifact.name() == request.name()) {
        QUANTD_ASSIGN_OR_RETURN(hex, ParseBlobRef(artifact.blob(), "blob"));
      }
    }
    if (hex.empty()) {
      return absl::NotFoundError(absl::StrCat("job ", request.job_id(),
                                              " has no artifact \"",
                                              request.name(), "\""));
    }
  }
  QUANTD_ASSIGN_OR_RETURN(uint64_t size, blobs->SizeOf(hex));
  if (request.offset() > size) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset: ", request.offset(), " is past the end (", size, " bytes)"));
  }
  const uint32_t chunk =
      request.chunk_size_bytes() == 0
          ? options.max_chunk_bytes
          : std::min(request.chunk_size_bytes(), options.max_chunk_bytes);
  return DownloadPlan{hex, request.offset(), size, chunk};
}

UploadBlobReactor::UploadBlobReactor(grpc::CallbackServerContext* context,
                                     spdlog::logger* log,
                                     scheduler::Scheduler* scheduler,
                                     artifacts::BlobStore* blobs,
                                     TransferOptions options,
                                     quantd::v1::UploadBlobResponse* response,
                                     UploadGuard guard)
    : context_(context),
      log_(log),
      scheduler_(scheduler),
      session_(blobs, options.max_upload_bytes),
      response_(response),
      guard_(guard) {
  auto who = guard_.guard->Admit(context, kUploadBlob);
  if (!who.ok()) {
    Finish(Reply(context_, who.status(), *log_, "UploadBlob"));
    return;
  }
  who_ = std::move(*who);
  StartRead(&chunk_);
}

absl::Status UploadBlobReactor::Begin(
    const quantd::v1::UploadBlobHeader& header) {
  QUANTD_RETURN_IF_ERROR(
      Under("header", CheckMessageLimits(header, guard_.guard->limits())));
  blob_ = header.blob();
  QUANTD_ASSIGN_OR_RETURN(std::string hex,
                          ParseBlobRef(header.blob(), "header.blob"));
  QUANTD_RETURN_IF_ERROR(guard_.storage->CheckQuota(who_->principal.tenant, hex,
                                                    header.size_bytes()));
  kind_ = header.kind();
  return session_.Begin(header.blob(), header.size_bytes(), "header");
}

absl::Status UploadBlobReactor::Handle() {
  const quantd::v1::UploadBlobChunk& chunk = chunk_.message;
  if (!chunk_.parsed) return UnparsableError(*chunk.GetDescriptor());
  if (chunk.has_header()) {
    if (session_.started()) {
      return InvalidFieldError("header", "sent twice");
    }
    return Begin(chunk.header());
  }
  if (!session_.started()) {
    return InvalidFieldError("header", "the first message must be the header");
  }
  return session_.Append(chunk.data());
}

absl::Status UploadBlobReactor::Complete() {
  if (!session_.started()) return InvalidFieldError("header", "required");
  QUANTD_ASSIGN_OR_RETURN(bool already_present, session_.Commit());
  QUANTD_RETURN_IF_ERROR(
      scheduler_->RecordBlob(session_.hex(), session_.size_bytes(), kind_));
  guard_.storage->RecordUpload(who_->principal.tenant, session_.hex(),
                               session_.size_bytes());
  response_->set_blob(BlobRef(session_.hex()));
  response_->set_size_bytes(session_.size_bytes());
  response_->set_already_present(already_present);
  return absl::OkStatus();
}

void UploadBlobReactor::End(const absl::Status& status) {
  const absl::Status out = guard_.guard->Conclude(
      kUploadBlob, *who_, "", status, Subject::kPlain, blob_);
  Finish(Reply(context_, out, *log_, "UploadBlob"));
}

void UploadBlobReactor::OnReadDone(bool ok) {
  const absl::Status posted = guard_.pool->Post([this, ok] { Step(ok); });
  if (!posted.ok()) End(posted);
}

void UploadBlobReactor::Step(bool ok) {
  absl::Status status = ok ? Handle() : Complete();
  if (ok && status.ok()) {
    StartRead(&chunk_);
    return;
  }
  // An error drops the session, and with it the partial file.
  End(status);
}

UploadArtifactReactor::UploadArtifactReactor(
    grpc::CallbackServerContext* context, spdlog::logger* log,
    scheduler::Scheduler* scheduler, artifacts::BlobStore* blobs,
    TransferOptions options, quantd::v1::UploadArtifactResponse* response,
    const CallGuard* guard, HandlerPool* pool)
    : context_(context),
      log_(log),
      scheduler_(scheduler),
      session_(blobs, options.max_upload_bytes),
      response_(response),
      guard_(guard),
      pool_(pool) {
  auto who = guard_->Admit(context, kUploadArtifact);
  if (!who.ok()) {
    Finish(Reply(context_, who.status(), *log_, "UploadArtifact"));
    return;
  }
  who_ = std::move(*who);
  StartRead(&chunk_);
}

absl::Status UploadArtifactReactor::Handle() {
  const quantd::v1::UploadArtifactChunk& chunk = chunk_.message;
  if (!chunk_.parsed) return UnparsableError(*chunk.GetDescriptor());
  if (chunk.has_header()) {
    if (session_.started()) return InvalidFieldError("header", "sent twice");
    header_ = chunk.header();
    // The scheduler names fields of the header.
    QUANTD_RETURN_IF_ERROR(Under(
        "header",
        scheduler_->CheckLease(header_.job_id(), header_.fencing_token())));
    QUANTD_RETURN_IF_ERROR(Under(
        "header", scheduler::Scheduler::CheckArtifact(header_.artifact())));
    return session_.Begin(header_.artifact().blob(),
                          header_.artifact().size_bytes(), "header.artifact");
  }
  if (!session_.started()) {
    return InvalidFieldError("header", "the first message must be the header");
  }
  return session_.Append(chunk.data());
}

absl::Status UploadArtifactReactor::Complete() {
  if (!session_.started()) return InvalidFieldError("header", "required");
  QUANTD_ASSIGN_OR_RETURN(bool already_present, session_.Commit());
  QUANTD_RETURN_IF_ERROR(scheduler_->RecordBlob(
      session_.hex(), session_.size_bytes(), header_.artifact().kind()));
  auto attached = scheduler_->AttachArtifact(
      header_.job_id(), header_.fencing_token(), header_.artifact());
  if (!attached.ok()) return Under("header", attached.status());
  *response_->mutable_artifact() = std::move(*attached);
  response_->set_already_present(already_present);
  return absl::OkStatus();
}

void UploadArtifactReactor::OnReadDone(bool ok) {
  const absl::Status posted = pool_->Post([this, ok] { Step(ok); });
  if (!posted.ok()) End(posted);
}

void UploadArtifactReactor::Step(bool ok) {
  absl::Status status = ok ? Handle() : Complete();
  if (ok && status.ok()) {
    StartRead(&chunk_);
    return;
  }
  End(status);
}

void UploadArtifactReactor::End(const absl::Status& status) {
  const absl::Status out =
      guard_->Conclude(kUploadArtifact, *who_, header_.job_id(), status,
                       Subject::kPlain, header_.artifact().name());
  Finish(Reply(context_, out, *log_, "UploadArtifact"));
}

}  // namespace quantd::api

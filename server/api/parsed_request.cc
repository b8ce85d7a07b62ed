#include "server/api/parsed_request.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "server/api/status_mapping.h"

namespace quantd::api {

absl::Status UnparsableError(const google::protobuf::Descriptor& type) {
  return InvalidFieldError(
      "request", absl::StrCat("does not parse as ", type.full_name()));
}

ParseCheck::ParseCheck(std::string_view service, const CallGuard* guard,
                       spdlog::logger* log, MarkFunction mark)
    : service_(
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
              std::string(service))),
      guard_(guard),
      log_(log),
      mark_(std::move(mark)) {
  QUANTD_CHECK(service_ != nullptr);
}

ParseCheck::Method ParseCheck::Find(std::string_view method) const {
  const google::protobuf::MethodDescriptor* found =
      service_->FindMethodByName(std::string(method));
  QUANTD_CHECK(found != nullptr);
  return Method{found->index(),
                Refusal{guard_, log_,
                        absl::StrCat(service_->name(), ".", found->name())}};
}

grpc::Status ParseCheck::Refusal::operator()(
    grpc::CallbackServerContext* context,
    const google::protobuf::Descriptor& type) const {
  auto who = guard->Admit(context, rpc);
  return Reply(context, who.ok() ? UnparsableError(type) : who.status(), *log,
               rpc.c_str());
}

}  // namespace quantd::api

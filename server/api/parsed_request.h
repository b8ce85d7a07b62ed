// Requests whose bytes may not parse, answered INVALID_ARGUMENT.
//
// gRPC 1.51's callback server answers a request that does not parse as its
// message (garbage, truncated, nested past protobuf's recursion limit) with
// UNIMPLEMENTED and no message: CallbackUnaryHandler::RunHandler drops the
// deserialisation status, which tells a client the method does not exist.
// In a client stream, a message that does not parse ends the stream as if
// the client had half-closed it (OnReadDone(false)).
//
// So quantd registers every method with ParsedRequest<T> as its request
// type: its SerializationTraits never fail but record whether the bytes
// parsed. ParseCheck re-registers a generated CallbackService's methods
// (MarkMethodCallback, by the method's index in the service descriptor,
// which is the generated code's index) with handlers that call the
// service's own handler when the request parsed, and otherwise answer
// UnparsableError after the caller's authentication (so an unauthenticated
// caller still gets UNAUTHENTICATED). Client-stream reactors read
// ParsedRequest<T> and check each message themselves.
//
// Thread-safety: ParseCheck is used in a service's constructor only; the
// handlers it makes are safe from any thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/api/call_guard.h"
#include "spdlog/logger.h"

namespace quantd::api {

// A request message and whether its bytes parsed; `message` is unspecified
// when they did not.
template <typename Message>
struct ParsedRequest {
  Message message;
  bool parsed = false;
};

// INVALID_ARGUMENT "request: does not parse as quantd.v1.GetJobRequest".
absl::Status UnparsableError(const google::protobuf::Descriptor& type);

// A write reactor that only reports `status` (streams refused up front).
template <typename T>
class ErrorWriter : public grpc::ServerWriteReactor<T> {
 public:
  explicit ErrorWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

class ParseCheck {
 public:
  // What grpc::Service::MarkMethodCallback(index, handler) does; protected
  // there, so the service passes a lambda.
  using MarkFunction =
      std::function<void(int index, grpc::internal::MethodHandler* handler)>;

  // `service` is the full name ("quantd.v1.JobService"); `guard` and `log`
  // are borrowed and must outlive the service.
  ParseCheck(std::string_view service, const CallGuard* guard,
             spdlog::logger* log, MarkFunction mark);

  template <typename Service, typename Request, typename Response>
  void Unary(std::string_view method, Service* service,
             grpc::ServerUnaryReactor* (Service::*handler)(
                 grpc::CallbackServerContext*, const Request*, Response*)) {
    const Method found = Find(method);
    mark_(found.index,
          new grpc::internal::CallbackUnaryHandler<ParsedRequest<Request>,
                                                   Response>(
              [refuse = found.refuse, service, handler](
                  grpc::CallbackServerContext* context,
                  const ParsedRequest<Request>* request, Response* response) {
                if (request->parsed) {
                  return (service->*handler)(context, &request->message,
                                             response);
                }
                grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
                reactor->Finish(refuse(context, *Request::descriptor()));
                return reactor;
              }));
  }

  template <typename Service, typename Request, typename Response>
  void ServerStreaming(std::string_view method, Service* service,
                       grpc::ServerWriteReactor<Response>* (Service::*handler)(
                           grpc::CallbackServerContext*, const Request*)) {
    const Method found = Find(method);
    mark_(found.index, new grpc::internal::CallbackServerStreamingHandler<
                           ParsedRequest<Request>, Response>(
                           [refuse = found.refuse, service, handler](
                               grpc::CallbackServerContext* context,
                               const ParsedRequest<Request>* request)
                               -> grpc::ServerWriteReactor<Response>* {
                             if (request->parsed) {
                               return (service->*handler)(context,
                                                          &request->message);
                             }
                             return new ErrorWriter<Response>(
                                 refuse(context, *Request::descriptor()));
                           }));
  }

  // The reactor `handler` returns checks `parsed` on each message it reads.
  template <typename Service, typename Request, typename Response>
  void ClientStreaming(std::string_view method, Service* service,
                       grpc::ServerReadReactor<ParsedRequest<Request>>* (
                           Service::*handler)(grpc::CallbackServerContext*,
                                              Response*)) {
    mark_(Find(method).index,
          new grpc::internal::CallbackClientStreamingHandler<
              ParsedRequest<Request>, Response>(
              [service, handler](grpc::CallbackServerContext* context,
                                 Response* response) {
                return (service->*handler)(context, response);
              }));
  }

 private:
  // How one method answers a request that did not parse: Admit() without
  // the request, then UnparsableError. Copied into the handlers, which
  // outlive the ParseCheck.
  struct Refusal {
    const CallGuard* guard = nullptr;
    spdlog::logger* log = nullptr;
    // CallGuard's name: "JobService.GetJob".
    std::string rpc;
    grpc::Status operator()(grpc::CallbackServerContext* context,
                            const google::protobuf::Descriptor& type) const;
  };
  struct Method {
    int index = 0;
    Refusal refuse;
  };

  Method Find(std::string_view method) const;

  const google::protobuf::ServiceDescriptor* const service_;
  const CallGuard* const guard_;
  spdlog::logger* const log_;
  const MarkFunction mark_;
};

}  // namespace quantd::api

namespace grpc {

// Never fails: a request that does not parse is handed to the handler with
// `parsed` false.
template <typename Message>
class SerializationTraits<quantd::api::ParsedRequest<Message>, void> {
 public:
  static Status Serialize(const quantd::api::ParsedRequest<Message>& request,
                          ByteBuffer* buffer, bool* own_buffer) {
    return SerializationTraits<Message>::Serialize(request.message, buffer,
                                                   own_buffer);
  }
  static Status Deserialize(ByteBuffer* buffer,
                            quantd::api::ParsedRequest<Message>* request) {
    request->parsed =
        SerializationTraits<Message>::Deserialize(buffer, &request->message)
            .ok();
    return Status::OK;
  }
};

}  // namespace grpc

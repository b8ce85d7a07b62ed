"""quantd.v1 messages and gRPC stubs, generated from proto/quantd/v1 by
client/python/generate_stubs.py with grpcio-tools 1.85.1 (protobuf gencode
7.35.1). Do not edit: run the generator after changing a .proto."""

GRPC_GENERATED_VERSION = "1.85.1"
PROTOBUF_GENERATED_VERSION = "7.35.1"

#include "worker/engine/io/tensor_source.h"

namespace quantd::engine::io {

const char* StorageTypeName(StorageType type) {
  switch (type) {
    case StorageType::kF32:
      return "F32";
    case StorageType::kF16:
      return "F16";
    case StorageType::kBF16:
      return "BF16";
    case StorageType::kF64:
      return "F64";
    case StorageType::kI8:
      return "I8";
    case StorageType::kU8:
      return "U8";
    case StorageType::kI16:
      return "I16";
    case StorageType::kI32:
      return "I32";
    case StorageType::kI64:
      return "I64";
    case StorageType::kBool:
      return "BOOL";
    case StorageType::kQ8_0:
      return "Q8_0";
    case StorageType::kQ4_0:
      return "Q4_0";
    case StorageType::kQ4_1:
      return "Q4_1";
    case StorageType::kQ4_K:
      return "Q4_K";
    case StorageType::kQ6_K:
      return "Q6_K";
  }
  return "?";
}

}  // namespace quantd::engine::io

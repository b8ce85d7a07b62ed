// Fused fake-quantization kernels: one pass over the tensor instead of the
// six elementwise LibTorch ops (div, round, add, clamp, sub, mul), and for
// dynamic per-row quantization the min/max reduction fused in as well.
// Bit-identical to the LibTorch path because both run the float32
// operations of fake_quant_math.h in the same order.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <limits>

#include "worker/engine/cuda/fake_quant_launch.h"

namespace quantd::engine::cuda::internal {
namespace {

constexpr int kThreads = 256;
// Enough blocks to fill any current GPU; the grid-stride loop covers more.
constexpr int64_t kMaxStaticBlocks = 65536;

__device__ __forceinline__ float Load(const float* p, int64_t i) {
  return p[i];
}
__device__ __forceinline__ float Load(const __half* p, int64_t i) {
  return __half2float(p[i]);
}
__device__ __forceinline__ float Load(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}

__device__ __forceinline__ void Store(float* p, int64_t i, float v) {
  p[i] = v;
}
__device__ __forceinline__ void Store(__half* p, int64_t i, float v) {
  p[i] = __float2half_rn(v);
}
__device__ __forceinline__ void Store(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}

template <typename T>
__global__ void FakeQuantizeStaticKernel(const T* x, T* out, int64_t numel,
                                         int64_t row_length, const float* scale,
                                         const float* zero_point,
                                         int64_t param_count, float qmin,
                                         float qmax) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < numel; i += stride) {
    const int64_t p = param_count == 1 ? 0 : i / row_length;
    Store(out, i,
          FakeQuantValue(Load(x, i), scale[p], zero_point[p], qmin, qmax));
  }
}

template <typename T>
__global__ void FakeQuantizeDynamicRowsKernel(const T* x, T* out,
                                              int64_t row_length,
                                              RowQParamsSpec spec,
                                              float* scale_out,
                                              float* zero_point_out) {
  __shared__ float shared_min[kThreads];
  __shared__ float shared_max[kThreads];
  __shared__ float row_scale;
  __shared__ float row_zero_point;
  const int64_t row = blockIdx.x;
  const T* in = x + row * row_length;
  T* dst = out + row * row_length;

  float lo = __int_as_float(0x7f800000);  // +inf
  float hi = -lo;
  for (int64_t j = threadIdx.x; j < row_length; j += kThreads) {
    const float v = Load(in, j);
    lo = NanMin(lo, v);
    hi = NanMax(hi, v);
  }
  shared_min[threadIdx.x] = lo;
  shared_max[threadIdx.x] = hi;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      shared_min[threadIdx.x] =
          NanMin(shared_min[threadIdx.x], shared_min[threadIdx.x + half]);
      shared_max[threadIdx.x] =
          NanMax(shared_max[threadIdx.x], shared_max[threadIdx.x + half]);
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const RowQParams q = ComputeRowQParams(shared_min[0], shared_max[0], spec);
    row_scale = q.scale;
    row_zero_point = q.zero_point;
    if (scale_out != nullptr) scale_out[row] = q.scale;
    if (zero_point_out != nullptr) zero_point_out[row] = q.zero_point;
  }
  __syncthreads();
  for (int64_t j = threadIdx.x; j < row_length; j += kThreads) {
    Store(dst, j,
          FakeQuantValue(Load(in, j), row_scale, row_zero_point, spec.qmin,
                         spec.qmax));
  }
}

template <typename T>
cudaError_t StaticFor(const void* x, void* out, int64_t numel,
                      int64_t row_length, const float* scale,
                      const float* zero_point, int64_t param_count, float qmin,
                      float qmax, cudaStream_t stream) {
  int64_t blocks = (numel + kThreads - 1) / kThreads;
  if (blocks > kMaxStaticBlocks) blocks = kMaxStaticBlocks;
  FakeQuantizeStaticKernel<T>
      <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
          static_cast<const T*>(x), static_cast<T*>(out), numel, row_length,
          scale, zero_point, param_count, qmin, qmax);
  return cudaGetLastError();
}

template <typename T>
cudaError_t DynamicFor(const void* x, void* out, int64_t rows,
                       int64_t row_length, const RowQParamsSpec& spec,
                       float* scale_out, float* zero_point_out,
                       cudaStream_t stream) {
  FakeQuantizeDynamicRowsKernel<T>
      <<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
          static_cast<const T*>(x), static_cast<T*>(out), row_length, spec,
          scale_out, zero_point_out);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchFakeQuantizeStatic(ElementType type, const void* x, void* out,
                                     int64_t numel, int64_t row_length,
                                     const float* scale,
                                     const float* zero_point,
                                     int64_t param_count, float qmin,
                                     float qmax, cudaStream_t stream) {
  if (numel == 0) return cudaSuccess;
  if (row_length <= 0 || param_count <= 0) return cudaErrorInvalidValue;
  switch (type) {
    case ElementType::kFloat32:
      return StaticFor<float>(x, out, numel, row_length, scale, zero_point,
                              param_count, qmin, qmax, stream);
    case ElementType::kFloat16:
      return StaticFor<__half>(x, out, numel, row_length, scale, zero_point,
                               param_count, qmin, qmax, stream);
    case ElementType::kBFloat16:
      return StaticFor<__nv_bfloat16>(x, out, numel, row_length, scale,
                                      zero_point, param_count, qmin, qmax,
                                      stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t LaunchFakeQuantizeDynamicRows(
    ElementType type, const void* x, void* out, int64_t rows,
    int64_t row_length, const RowQParamsSpec& spec, float* scale_out,
    float* zero_point_out, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (row_length <= 0 || rows > std::numeric_limits<int32_t>::max()) {
    return cudaErrorInvalidValue;
  }
  switch (type) {
    case ElementType::kFloat32:
      return DynamicFor<float>(x, out, rows, row_length, spec, scale_out,
                               zero_point_out, stream);
    case ElementType::kFloat16:
      return DynamicFor<__half>(x, out, rows, row_length, spec, scale_out,
                                zero_point_out, stream);
    case ElementType::kBFloat16:
      return DynamicFor<__nv_bfloat16>(x, out, rows, row_length, spec,
                                       scale_out, zero_point_out, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace quantd::engine::cuda::internal

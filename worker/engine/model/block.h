// Block: one transformer block, loaded on demand, with everything a
// quantization method needs to act on it:
//   * its Linear layers and norms by HF-relative name ("self_attn.q_proj",
//     "input_layernorm"), read and replaced in place;
//   * its input sites: the activations that feed groups of Linear layers,
//     under the same role names in every architecture ("attn_in",
//     "attn_out_in", "mlp_in", "mlp_out_in"), with the consumers that read
//     them, the norm that produces them and the layer whose output channels
//     map onto theirs (what an equivalent transformation needs to know);
//   * hooks at every site and at the attention's Q, K, V and probabilities,
//     to capture statistics or fake-quantize activations;
//   * SiteForward, the function F from a site's activation to the next
//     site's, evaluated with substitute Linear layers (OS+'s loss).
//
// Hook points and tensor layouts (shared by all architectures):
//   "attn_in"      [B, T, C]      input of the Q/K/V projections
//   "query"        [B, H, T, D]   Q after RoPE and after any q scaling
//                                 (OPT scales q by D^-0.5 before this point)
//   "key", "value" [B, Hkv, T, D] K after RoPE, V; before GQA repetition
//   "probs"        [B, H, T, T]   softmax output (forces explicit attention)
//   "attn_out_in"  [B, T, H·D]    attention context, input of the out proj
//   "mlp_in"       [B, T, C]      input of fc1 / gate+up / intermediate
//   "mlp_out_in"   [B, T, F]      input of fc2 / down_proj / output.dense
//
// Ownership: a Block owns its tensors (float32, on the model's device); only
// the block being worked on needs to be resident. Not thread-safe: hooks and
// weights are mutable, and hooks may keep state.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/engine/model/activation_hook.h"
#include "worker/engine/model/forward_context.h"
#include "worker/engine/model/layers.h"

namespace quantd::engine::model {

// Where a hook can be installed. The first four are the input sites.
enum class HookPoint {
  kAttnIn,
  kAttnOutIn,
  kMlpIn,
  kMlpOutIn,
  kQuery,
  kKey,
  kValue,
  kProbs,
};
inline constexpr int kNumHookPoints = 8;

// "attn_in", ..., "probs".
std::string_view HookPointName(HookPoint point);
// Throws ModelError for an unknown name.
HookPoint ParseHookPoint(std::string_view name);

// An activation that feeds one or more Linear layers.
struct InputSite {
  HookPoint point = HookPoint::kAttnIn;  // One of the first four.
  std::string name;                      // HookPointName(point).
  // The Linear layers that read this activation, in the order SiteForward
  // takes them (e.g. q, k, v).
  std::vector<std::string> consumers;
  // The norm of this block whose output this activation is; "" when it is
  // produced elsewhere (a Post-LN block's input comes from the previous
  // block's last norm or from the embedding norm).
  std::string norm;
  // A Linear whose output channel j becomes channel j of this activation
  // through a positively homogeneous map (attention's V·P without GQA,
  // silu(gate)⊙up, ReLU), so dividing its row j (and bias j) by s_j > 0
  // divides channel j here by s_j. "" when there is none.
  std::string producer;
  // Post-LN: the residual stream also reads this activation, so a
  // transformation of it must be undone on the residual path too.
  bool feeds_residual = false;
};

class Block {
 public:
  virtual ~Block() = default;
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  int64_t index() const { return index_; }
  // HF name prefix of this block's tensors, e.g. "model.layers.3.".
  const std::string& prefix() const { return prefix_; }

  // Input sites in dataflow order.
  const std::vector<InputSite>& Sites() const { return sites_; }
  // Throws ModelError for an unknown site name.
  const InputSite& Site(std::string_view name) const;

  // Names in dataflow order. linear() and norm() throw ModelError for an
  // unknown name.
  std::vector<std::string> LinearNames() const;
  std::vector<std::string> NormNames() const;
  Linear& linear(std::string_view name);
  const Linear& linear(std::string_view name) const;
  Norm& norm(std::string_view name);
  const Norm& norm(std::string_view name) const;

  // Copies of the consumer layers of `site` (sharing their tensors), ready
  // to be modified and passed to SiteForward.
  std::vector<Linear> Consumers(std::string_view site) const;

  // Every tensor under its full HF name ("model.layers.3.mlp.up_proj.weight"),
  // for export and checkpoints. The tensors are shared, not copied.
  std::vector<std::pair<std::string, at::Tensor>> NamedTensors() const;

  // Installs (or, with an empty hook, removes) the hook at `point`.
  void SetHook(HookPoint point, ActivationHook hook);
  void SetHook(std::string_view point, ActivationHook hook);
  void ClearHooks();

  // hidden [B, T, C] -> hidden [B, T, C], with the installed hooks applied.
  virtual at::Tensor Forward(const at::Tensor& hidden,
                             const ForwardContext& context) const = 0;

  // F of `site`: what the block computes from that site's activation `x` up
  // to the next site's activation (or up to the branch output before the
  // residual add for the last site of a branch), using `consumers` (one per
  // site consumer, same order) instead of the block's own layers. No hooks.
  //   attn_in:     [q, k, v] -> attention context [B, T, H·D]
  //   attn_out_in: [o]       -> o(x)
  //   mlp_in:      [gate, up] -> act(gate(x)) ⊙ up(x)  |  [fc1] -> act(fc1(x))
  //   mlp_out_in:  [down]    -> down(x)
  // Throws ModelError for an unknown site or a wrong number of layers.
  at::Tensor SiteForward(std::string_view site, const at::Tensor& x,
                         std::span<const Linear> consumers,
                         const ForwardContext& context) const;

  // Moves every owned tensor to `device`.
  void To(const at::Device& device);

 protected:
  Block(int64_t index, std::string prefix);

  void AddLinear(std::string name, Linear linear);
  void AddNorm(std::string name, Norm norm);
  void AddSite(InputSite site);

  // x transformed by the hook at `point`, or x itself when none is set.
  at::Tensor Hooked(HookPoint point, const at::Tensor& x) const;
  // The hook at `point`, or null.
  const ActivationHook* HookAt(HookPoint point) const;

  // The architecture's F for `site` (already checked: consumers has one
  // layer per site consumer). With `hooked`, the attention-internal hooks
  // apply, which is how Forward reuses it.
  virtual at::Tensor SiteFunction(const InputSite& site, const at::Tensor& x,
                                  std::span<const Linear> consumers,
                                  const ForwardContext& context,
                                  bool hooked) const = 0;

 private:
  int64_t index_;
  std::string prefix_;
  std::vector<std::pair<std::string, Linear>> linears_;
  std::vector<std::pair<std::string, Norm>> norms_;
  std::vector<InputSite> sites_;
  std::array<ActivationHook, kNumHookPoints> hooks_;
};

}  // namespace quantd::engine::model

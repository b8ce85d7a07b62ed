// Anchor translation unit for the engine's precompiled header.
namespace quantd::engine::internal {
int PrecompiledHeaderAnchor() { return 0; }
}  // namespace quantd::engine::internal

// Precompiled header of the engine: the heavy LibTorch headers every engine
// translation unit needs. Never include this file directly; CMake injects it.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

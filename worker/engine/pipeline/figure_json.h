// LayerFigure <-> JSON for events, checkpoints and reports: the field names
// of quantd.v1.LayerFigure; undefined (NaN) figures become null.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "worker/engine/methods/method.h"

namespace quantd::engine::pipeline {

nlohmann::json FigureToJson(const methods::LayerFigure& figure);
methods::LayerFigure FigureFromJson(const nlohmann::json& json);
nlohmann::json FiguresToJson(const std::vector<methods::LayerFigure>& figures);

}  // namespace quantd::engine::pipeline

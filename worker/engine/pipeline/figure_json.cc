#include "worker/engine/pipeline/figure_json.h"

#include <cmath>
#include <limits>
#include <string>

namespace quantd::engine::pipeline {
namespace {

nlohmann::json Number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

double NumberFrom(const nlohmann::json& json, const char* key) {
  auto found = json.find(key);
  if (found == json.end() || !found->is_number()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return found->get<double>();
}

}  // namespace

nlohmann::json FigureToJson(const methods::LayerFigure& figure) {
  return {{"name", figure.name},
          {"loss_before", Number(figure.loss_before)},
          {"loss_after", Number(figure.loss_after)},
          {"threshold", Number(figure.threshold)},
          {"scale_min", Number(figure.scale_min)},
          {"scale_max", Number(figure.scale_max)},
          {"scale_mean", Number(figure.scale_mean)}};
}

methods::LayerFigure FigureFromJson(const nlohmann::json& json) {
  methods::LayerFigure figure;
  figure.name = json.value("name", std::string());
  figure.loss_before = NumberFrom(json, "loss_before");
  figure.loss_after = NumberFrom(json, "loss_after");
  figure.threshold = NumberFrom(json, "threshold");
  figure.scale_min = NumberFrom(json, "scale_min");
  figure.scale_max = NumberFrom(json, "scale_max");
  figure.scale_mean = NumberFrom(json, "scale_mean");
  return figure;
}

nlohmann::json FiguresToJson(const std::vector<methods::LayerFigure>& figures) {
  nlohmann::json array = nlohmann::json::array();
  for (const methods::LayerFigure& figure : figures) {
    array.push_back(FigureToJson(figure));
  }
  return array;
}

}  // namespace quantd::engine::pipeline

#include "core/metrics.hpp"

#include <fmt/format.h>

#include <cmath>

namespace vibe::core {

namespace {

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    out += fmt::format("{}", static_cast<std::int64_t>(value));
  } else {
    out += fmt::format("{}", value);
  }
}

void append_labels(std::string& out, const PrometheusText::Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) {
    return;
  }
  out += '{';
  bool first = true;
  auto one = [&](std::string_view name, std::string_view value) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += name;
    out += "=\"";
    for (const char c : value) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += c;
      }
    }
    out += '"';
  };
  for (const auto& [name, value] : labels) {
    one(name, value);
  }
  if (!extra_name.empty()) {
    one(extra_name, extra_value);
  }
  out += '}';
}

}  // namespace

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  m_out += fmt::format("# HELP {} ", name);
  for (const char c : help) {
    m_out += c == '\n' ? std::string{"\\n"} : c == '\\' ? std::string{"\\\\"} : std::string(1, c);
  }
  m_out += fmt::format("\n# TYPE {} {}\n", name, type);
}

void PrometheusText::sample(std::string_view name, const Labels& labels, double value) {
  m_out += name;
  append_labels(m_out, labels);
  m_out += ' ';
  append_value(m_out, value);
  m_out += '\n';
}

void PrometheusText::histogram(std::string_view name, const Labels& labels, const Histogram& histogram) {
  std::uint64_t cumulative = 0;
  const std::string bucket = fmt::format("{}_bucket", name);
  for (std::size_t i = 0; i <= histogram.bounds().size(); ++i) {
    cumulative += histogram.counts()[i];
    std::string le;
    if (i == histogram.bounds().size()) {
      le = "+Inf";
    } else {
      append_value(le, histogram.bounds()[i]);
    }
    m_out += bucket;
    append_labels(m_out, labels, "le", le);
    m_out += fmt::format(" {}\n", cumulative);
  }
  sample(fmt::format("{}_sum", name), labels, histogram.sum());
  sample(fmt::format("{}_count", name), labels, static_cast<double>(histogram.count()));
}

}  // namespace vibe::core

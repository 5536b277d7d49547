#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Small metric types kept by vibe's parts for `vibe status` and, later, the
// Prometheus endpoint. Not thread-safe: owners guard them.
namespace vibe::core {

// A histogram with fixed upper bounds, Prometheus style: counts[i] is the
// number of observations <= bounds[i] (not cumulative here; the exporter
// sums), plus one overflow bucket.
class Histogram {
public:
  explicit Histogram(std::span<const double> bounds) : m_bounds(bounds.begin(), bounds.end()), m_counts(bounds.size() + 1) {}

  void observe(double value) {
    std::size_t i = 0;
    while (i < m_bounds.size() && value > m_bounds[i]) {
      ++i;
    }
    ++m_counts[i];
    m_sum += value;
    ++m_count;
  }

  const std::vector<double>& bounds() const { return m_bounds; }
  const std::vector<std::uint64_t>& counts() const { return m_counts; }  // bounds().size() + 1 entries
  double sum() const { return m_sum; }
  std::uint64_t count() const { return m_count; }

private:
  std::vector<double> m_bounds;
  std::vector<std::uint64_t> m_counts;
  double m_sum = 0;
  std::uint64_t m_count = 0;
};

// The Prometheus text exposition format (version 0.0.4), written one metric
// family at a time: family() writes its HELP and TYPE lines, then its
// samples follow. Label values are escaped; names are the caller's (they
// follow Prometheus conventions: vibe_ prefix, _total counters, base units).
class PrometheusText {
public:
  using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  // _bucket (cumulative, le=...), _sum and _count samples of `histogram`.
  void histogram(std::string_view name, const Labels& labels, const Histogram& histogram);

  const std::string& text() const { return m_out; }

private:
  std::string m_out;
};

}  // namespace vibe::core

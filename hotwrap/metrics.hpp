// Metrics in Prometheus's text format (exposition format 0.0.4): counters, gauges and histograms,
// each series with its labels fixed when it is made. Updating one is an add on the loop's thread
// (hotwrap has one): nothing is allocated, locked or looked up per call; making a series
// allocates, once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hotwrap {

// A label of a series: name and value (escaped when exposed).
using Label = std::pair<std::string_view, std::string_view>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_ += n; }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0;
};

class Gauge {
 public:
  void inc() { ++value_; }
  void dec() { --value_; }
  void set(int64_t v) { value_ = v; }
  int64_t value() const { return value_; }

 private:
  int64_t value_ = 0;
};

// Counts of observations at or below each upper bound (cumulative when exposed), their sum and
// their number.
class Histogram {
 public:
  // `bounds` ascending; must outlive the histogram (a static table).
  explicit Histogram(std::span<const double> bounds) : bounds_(bounds), counts_(bounds.size()) {}
  void observe(double v);
  std::span<const double> bounds() const { return bounds_; }
  // Observations in (bounds[i-1], bounds[i]]; not cumulative.
  uint64_t bucket(size_t i) const { return counts_[i]; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::span<const double> bounds_;
  std::vector<uint64_t> counts_;  // one per bound; above the last: count_ minus their sum
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Prometheus's default buckets (DefBuckets of its client libraries), in seconds.
extern const std::span<const double> kDefaultBuckets;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // A new series of the family `name` (made, with its HELP and TYPE lines, by its first series;
  // later series of the family give the same help). References stay valid as long as the
  // registry.
  Counter& counter(std::string_view name, std::string_view help,
                   std::span<const Label> labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, std::span<const Label> labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                       std::span<const Label> labels = {});

  // Every family, in the order their first series were made, with its series in the order they
  // were made: `# HELP`, `# TYPE`, then the samples, as text format 0.0.4.
  std::string expose() const;

 private:
  enum class Type { Counter, Gauge, Histogram };
  // One series; its family's type says which of the three it is.
  struct Series {
    std::string labels;  // `a="x",b="y"`, escaped; empty without labels
    Counter counter;
    Gauge gauge;
    std::optional<Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<std::unique_ptr<Series>> series;  // never moved: references to them are handed out
  };
  Series& add(std::string_view name, std::string_view help, Type type,
              std::span<const Label> labels);

  std::vector<Family> families_;
};

}  // namespace hotwrap

#include "hotwrap/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace hotwrap {

namespace {

constexpr double kDefaultBucketBounds[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

// A float with 15 significant digits (what a double holds exactly: a bucket bound reads as it was
// written, a sum of durations to far below a microsecond), `+Inf`, `-Inf` or `NaN`. Not the
// shortest round trip Go prints: that needs strtod, 30 KB of the static binary.
void append_float(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%.15g", v);
  out.append(buf, static_cast<size_t>(n));
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  out.append(buf, static_cast<size_t>(n));
}

// HELP text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// One sample line: name[suffix]{labels[,extra]} value.
void append_sample(std::string& out, const std::string& name, std::string_view suffix,
                   const std::string& labels, std::string_view extra, std::string_view value) {
  out += name;
  out += suffix;
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra.empty()) out += ',';
    out += extra;
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

const std::span<const double> kDefaultBuckets(kDefaultBucketBounds);

void Histogram::observe(double v) {
  // A handful of bounds: a linear scan beats anything cleverer.
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (v <= bounds_[i]) {
      ++counts_[i];
      break;
    }
  }
  ++count_;
  sum_ += v;
}

Registry::Series& Registry::add(std::string_view name, std::string_view help, Type type,
                                std::span<const Label> labels) {
  Family* family = nullptr;
  for (Family& f : families_) {
    if (f.name == name) family = &f;
  }
  if (family == nullptr) {
    family = &families_.emplace_back(Family{std::string(name), std::string(help), type, {}});
  }
  Series& s = *family->series.emplace_back(std::make_unique<Series>());
  for (const auto& [label, value] : labels) {
    if (!s.labels.empty()) s.labels += ',';
    s.labels += label;
    s.labels += "=\"";
    append_escaped(s.labels, value, true);
    s.labels += '"';
  }
  return s;
}

Counter& Registry::counter(std::string_view name, std::string_view help,
                           std::span<const Label> labels) {
  return add(name, help, Type::Counter, labels).counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help,
                       std::span<const Label> labels) {
  return add(name, help, Type::Gauge, labels).gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::span<const double> bounds, std::span<const Label> labels) {
  return add(name, help, Type::Histogram, labels).histogram.emplace(bounds);
}

std::string Registry::expose() const {
  std::string out;
  std::string value;
  std::string le;
  for (const Family& f : families_) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += f.type == Type::Counter ? " counter\n"
           : f.type == Type::Gauge ? " gauge\n"
                                   : " histogram\n";
    for (const auto& series : f.series) {
      const Series& s = *series;
      value.clear();
      if (f.type == Type::Counter) {
        append_uint(value, s.counter.value());
        append_sample(out, f.name, {}, s.labels, {}, value);
      } else if (f.type == Type::Gauge) {
        value = std::to_string(s.gauge.value());
        append_sample(out, f.name, {}, s.labels, {}, value);
      } else {
        const Histogram& h = *s.histogram;
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= h.bounds().size(); ++i) {
          le = "le=\"";
          if (i < h.bounds().size()) {
            cumulative += h.bucket(i);
            append_float(le, h.bounds()[i]);
          } else {
            cumulative = h.count();
            le += "+Inf";
          }
          le += '"';
          value.clear();
          append_uint(value, cumulative);
          append_sample(out, f.name, "_bucket", s.labels, le, value);
        }
        value.clear();
        append_float(value, h.sum());
        append_sample(out, f.name, "_sum", s.labels, {}, value);
        value.clear();
        append_uint(value, h.count());
        append_sample(out, f.name, "_count", s.labels, {}, value);
      }
    }
  }
  return out;
}

}  // namespace hotwrap

// The metrics registry: series as made, and their exposition in text format 0.0.4, exactly.
#include "hotwrap/metrics.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace hotwrap;

TEST_CASE("metrics: counters, gauges and histograms are exposed in text format 0.0.4") {
  Registry r;
  std::array<Label, 1> ok{{{"outcome", "ok"}}};
  std::array<Label, 1> failed{{{"outcome", "failed"}}};
  Counter& a = r.counter("calls_total", "Calls by outcome.", ok);
  Counter& b = r.counter("calls_total", "Calls by outcome.", failed);
  Gauge& g = r.gauge("in_flight", "Calls running.");
  static constexpr double kBounds[] = {0.1, 1, 2.5};
  std::array<Label, 2> labels{{{"code", "200"}, {"method", "post"}}};
  Histogram& h = r.histogram("took_seconds", "Durations.", kBounds, labels);

  SUBCASE("zero") {
    CHECK(r.expose() ==
          "# HELP calls_total Calls by outcome.\n"
          "# TYPE calls_total counter\n"
          "calls_total{outcome=\"ok\"} 0\n"
          "calls_total{outcome=\"failed\"} 0\n"
          "# HELP in_flight Calls running.\n"
          "# TYPE in_flight gauge\n"
          "in_flight 0\n"
          "# HELP took_seconds Durations.\n"
          "# TYPE took_seconds histogram\n"
          "took_seconds_bucket{code=\"200\",method=\"post\",le=\"0.1\"} 0\n"
          "took_seconds_bucket{code=\"200\",method=\"post\",le=\"1\"} 0\n"
          "took_seconds_bucket{code=\"200\",method=\"post\",le=\"2.5\"} 0\n"
          "took_seconds_bucket{code=\"200\",method=\"post\",le=\"+Inf\"} 0\n"
          "took_seconds_sum{code=\"200\",method=\"post\"} 0\n"
          "took_seconds_count{code=\"200\",method=\"post\"} 0\n");
  }
  SUBCASE("after updates: buckets cumulative, bounds inclusive, sum and count") {
    a.inc();
    a.inc(2);
    b.inc();
    g.inc();
    g.inc();
    g.dec();
    h.observe(0.05);
    h.observe(0.1);  // on the bound: in its bucket
    h.observe(2);
    h.observe(30);  // above every bound: +Inf only
    CHECK(a.value() == 3);
    CHECK(r.expose() ==
          "# HELP calls_total Calls by outcome.\n"
          "# TYPE calls_total counter\n"
          "calls_total{outcome=\"ok\"} 3\n"
          "calls_total{outcome=\"failed\"} 1\n"
          "# HELP in_flight Calls running.\n"
          "# TYPE in_flight gauge\n"
          "in_flight 1\n"
          "# HELP took_seconds Durations.\n"
          "# TYPE took_seconds histogram\n"
          "took_seconds_bucket{code=\"200\",method=\"post\",le=\"0.1\"} 2\n"
          "took_seconds_bucket{code=\"200\",method=\"post\",le=\"1\"} 2\n"
          "took_seconds_bucket{code=\"200\",method=\"post\",le=\"2.5\"} 3\n"
          "took_seconds_bucket{code=\"200\",method=\"post\",le=\"+Inf\"} 4\n"
          "took_seconds_sum{code=\"200\",method=\"post\"} 32.15\n"
          "took_seconds_count{code=\"200\",method=\"post\"} 4\n");
  }
}

TEST_CASE("metrics: label values and help text are escaped; a gauge goes negative") {
  Registry r;
  std::array<Label, 1> odd{{{"v", "a\"b\\c\nd"}}};
  r.counter("x_total", "Help with \\ and\na newline.", odd).inc();
  r.gauge("g", "G.").set(-2);
  CHECK(r.expose() ==
        "# HELP x_total Help with \\\\ and\\na newline.\n"
        "# TYPE x_total counter\n"
        "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"
        "# HELP g G.\n"
        "# TYPE g gauge\n"
        "g -2\n");
}

TEST_CASE("metrics: the default buckets are Prometheus's, printed as its clients print them") {
  Registry r;
  Histogram& h = r.histogram("d_seconds", "D.", kDefaultBuckets);
  h.observe(0.3);
  h.observe(0.1 + 0.2);  // 0.30000000000000004: 15 digits are shown
  std::string text = r.expose();
  CHECK(text.find("d_seconds_bucket{le=\"0.005\"} 0\n"
                  "d_seconds_bucket{le=\"0.01\"} 0\n"
                  "d_seconds_bucket{le=\"0.025\"} 0\n"
                  "d_seconds_bucket{le=\"0.05\"} 0\n"
                  "d_seconds_bucket{le=\"0.1\"} 0\n"
                  "d_seconds_bucket{le=\"0.25\"} 0\n"
                  "d_seconds_bucket{le=\"0.5\"} 2\n"
                  "d_seconds_bucket{le=\"1\"} 2\n"
                  "d_seconds_bucket{le=\"2.5\"} 2\n"
                  "d_seconds_bucket{le=\"5\"} 2\n"
                  "d_seconds_bucket{le=\"10\"} 2\n"
                  "d_seconds_bucket{le=\"+Inf\"} 2\n"
                  "d_seconds_sum 0.6\n"
                  "d_seconds_count 2\n") != std::string::npos);
}

#!/usr/bin/env python3
"""Turns the key=value results of bench/run.sh into a table (stdout), bench/results.md and
bench/results.svg. Standard library only.

    report.py RESULTS_ENV RESULTS_MD RESULTS_SVG
"""
import html
import sys

MIB = 1 << 20


def load(path):
    r = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                r[k] = v
    return r


def num(r, k):
    return float(r[k])


def verdict(median_ok, robust_ok=None):
    """PASS needs the median and, where there is one, the least-disturbed figure (10th percentile
    or best of N) to meet the goal: on a shared machine other load can favour either side."""
    if robust_ok is None or robust_ok == median_ok:
        return "PASS" if median_ok else "MISS"
    return "MISS (median only meets it)" if median_ok else "MISS (least-disturbed only meets it)"


def rows(r):
    """Each row: (n, measure, hotwrap, baseline, ratio text, goal text, value/goal, verdict)."""
    out = []

    lat_ratio = num(r, "lat_ratio")
    out.append((
        "1", f"Per-call latency: cat, {int(num(r, 'lat_body'))} B body, one kept-alive connection, chunked"
        + (f" ({r['lat_env']})" if r.get("lat_env") else ""),
        f"{num(r, 'lat_hotwrap_us'):.0f} µs",
        f"{num(r, 'lat_bare_us'):.0f} µs (posix_spawn+pipes+waitpid)",
        f"{lat_ratio:.3f}× (p10: {num(r, 'lat_p10_ratio'):.3f}×)", "≤ 1.15×", lat_ratio / 1.15,
        verdict(lat_ratio <= 1.15, num(r, "lat_p10_ratio") <= 1.15)))

    s_ratio = num(r, "stream_ratio")
    out.append((
        "2", f"{r['stream_mib']} MiB through cat in one call (chunked both ways)",
        f"{num(r, 'stream_hotwrap_mibs'):.0f} MiB/s",
        f"{num(r, 'stream_pipeline_mibs'):.0f} MiB/s (head | cat | cat)",
        f"{s_ratio:.3f}× (best of {r['stream_reps']}: {num(r, 'stream_best_ratio'):.3f}×)", "≥ 0.70×",
        0.70 / s_ratio if s_ratio > 0 else 99, verdict(s_ratio >= 0.70, num(r, "stream_best_ratio") >= 0.70)))

    hwm = num(r, "stream_hwm_kib") / 1024
    out.append((
        "3", f"Peak RSS (VmHWM) of hotwrap during the {r['stream_mib']} MiB call",
        f"{hwm:.2f} MiB", "—", "—", "≤ 16 MiB", hwm / 16, verdict(hwm <= 16)))

    idle = num(r, "idle_rss_kib") / 1024
    floor_rss = num(r, "floor_rss_kib") / 1024
    out.append((
        "4", "RSS (VmRSS) of hotwrap after 50 calls, idle",
        f"{idle:.2f} MiB", f"{floor_rss:.2f} MiB (floor: static glibc + libevent_core, event base)",
        f"{idle / floor_rss:.2f}× floor", "≤ 1.5 MiB", idle / 1.5, verdict(idle <= 1.5)))

    size = num(r, "size_bytes")
    fsize = num(r, "floor_size_bytes")
    out.append((
        "5", "Stripped static binary size" + ("" if r.get("stripped") == "yes" else " (NOT stripped)"),
        f"{size / MIB:.3f} MiB ({int(size)} B)", f"{fsize / MIB:.3f} MiB ({int(fsize)} B) (floor)",
        f"{size / fsize:.2f}× floor", "≤ 1.5 MiB", size / (1.5 * MIB), verdict(size <= 1.5 * MIB)))

    st = num(r, "start_hotwrap_us")
    out.append((
        "6", f"exec of hotwrap → lsnr.sock created (median of {r['start_runs']})",
        f"{st / 1000:.3f} ms", f"{num(r, 'start_floor_us') / 1000:.3f} ms (floor: spawn → exit)",
        f"{(st - num(r, 'start_floor_us')) / 1000:+.3f} ms vs floor", "≤ 1 ms", st / 1000, verdict(st <= 1000)))

    p_ratio = num(r, "pre_ratio")
    v7 = verdict(p_ratio <= 0.10, num(r, "pre_p10_ratio") <= 0.10)
    # A warm node call is mostly wake-ups across CPUs, which a busy VM host slows several-fold
    # while a cold start hardly moves. When node alone (the floor) misses too, the verdict says so:
    # that run measured the machine, not hotwrap.
    if v7 != "PASS" and num(r, "pre_floor_ratio") > 0.10:
        v7 += f"; node alone, no hotwrap: {num(r, 'pre_floor_ratio'):.3f}×"
    out.append((
        "7", f"node func.js call after {r['pre_sleep_ms']} ms idle: HOTWRAP_PRESPAWN=1 vs spawn per call",
        f"{num(r, 'pre_hot_ms'):.2f} ms", f"{num(r, 'pre_cold_ms'):.2f} ms (hotwrap, spawn per call)",
        f"{p_ratio:.3f}× (p10: {num(r, 'pre_p10_ratio'):.3f}×)", "≤ 0.10×", p_ratio / 0.10, v7))

    if "http_lat_ratio" not in r:
        return out
    h = num(r, "http_lat_ratio")
    out.append((
        "8", "http contract: per-call latency, cat, 1024 B, one kept-alive TCP connection",
        f"{num(r, 'http_lat_hotwrap_us'):.0f} µs", f"{num(r, 'http_lat_bare_us'):.0f} µs (posix_spawn+pipes+waitpid)",
        f"{h:.3f}× (p10: {num(r, 'http_lat_p10_ratio'):.3f}×)", "≤ 1.15×", h / 1.15,
        verdict(h <= 1.15, num(r, "http_lat_p10_ratio") <= 1.15)))
    p = num(r, "pin_lat_ratio")
    out.append((
        "9", "http contract: the same, hotwrap, client and bare loop all on one CPU",
        f"{num(r, 'pin_lat_hotwrap_us'):.0f} µs", f"{num(r, 'pin_lat_bare_us'):.0f} µs (posix_spawn+pipes+waitpid)",
        f"{p:.3f}× (p10: {num(r, 'pin_lat_p10_ratio'):.3f}×)", "≤ 1.10×", p / 1.10,
        verdict(p <= 1.10, num(r, "pin_lat_p10_ratio") <= 1.10)))
    c = num(r, "conc_ratio")
    out.append((
        "10", f"http contract: {r['conc_threads']} callers at once, calls/s",
        f"{num(r, 'conc_hotwrap_cps'):.0f} calls/s", f"{num(r, 'conc_bare_cps'):.0f} calls/s ({r['conc_threads']} bare spawn loops)",
        f"{c:.3f}× (best of {r['conc_reps']}: {num(r, 'conc_best_ratio'):.3f}×)", "≥ 0.90×",
        0.90 / c if c > 0 else 99, verdict(c >= 0.90, num(r, "conc_best_ratio") >= 0.90)))
    hs = num(r, "http_stream_ratio")
    hs_best = num(r, "http_stream_best_ratio")
    floor_med = num(r, "http_stream_floor_ratio")
    floor_best = num(r, "http_stream_floor_best_ratio")
    # The pipeline runs in one of two modes on a 2-core machine (about 0.8-1.1 or 2.1-2.3 GiB/s,
    # by where its processes land); in the fast one it is out of reach of any server on this path,
    # the minimal one measured beside it (the floor) included. Where the floor's figure is below
    # the goal, the goal's ratio is asked of hotwrap against the floor's, and the verdict says so.
    def meets(ratio, floor):
        return ratio >= 0.90 or (floor < 0.90 and ratio >= 0.90 * floor)
    v11 = verdict(meets(hs, floor_med), meets(hs_best, floor_best))
    if v11 == "PASS" and (hs < 0.90 or hs_best < 0.90):
        v11 = "PASS (against the floor)"
    out.append((
        "11", f"http contract: {r['http_stream_mib']} MiB through cat in one call",
        f"{num(r, 'http_stream_hotwrap_mibs'):.0f} MiB/s", f"{num(r, 'http_stream_pipeline_mibs'):.0f} MiB/s (head | cat | cat)",
        f"{hs:.3f}× (best of {r['http_stream_reps']}: {hs_best:.3f}×); floor {floor_med:.3f}× "
        f"(best {floor_best:.3f}×)", "≥ 0.90×",
        0.90 / hs if hs > 0 else 99, v11))
    hi = num(r, "http_idle_rss_kib") / 1024
    out.append((
        "12", "http contract: RSS after 50 calls, idle",
        f"{hi:.2f} MiB", "—", "—", "≤ 1.5 MiB", hi / 1.5, verdict(hi <= 1.5)))
    return out


def table_md(rs):
    lines = ["| # | measure | hotwrap | baseline / floor | ratio | goal | result |",
             "|---|---|---|---|---|---|---|"]
    for n, what, hw, base, ratio, goal, _, ok in rs:
        cells = [c.replace("|", "\\|") for c in (n, what, hw, base, ratio, goal)]
        lines.append("| " + " | ".join(cells) + f" | {ok if ok == 'PASS' else '**' + ok + '**'} |")
    return "\n".join(lines)


def table_text(rs):
    cols = [("#", 1), ("measure", 0), ("hotwrap", 0), ("baseline / floor", 0), ("ratio", 0), ("goal", 0),
            ("result", 0)]
    cells = [[n, what, hw, base, ratio, goal, ok]
             for n, what, hw, base, ratio, goal, _, ok in rs]
    widths = [max(len(c[0]), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    widths[1] = min(widths[1], 60)
    widths[3] = min(widths[3], 44)

    def fmt(row):
        return "  ".join(str(v)[:widths[i]].ljust(widths[i]) for i, v in enumerate(row))

    out = [fmt([c[0] for c in cols]), fmt(["-" * w for w in widths])]
    out += [fmt(row) for row in cells]
    return "\n".join(out)


def checks_md(r):
    return "\n".join([
        "| check | figure |",
        "|---|---|",
        f"| client + socket round trip (null server, same client, same framing) | "
        f"{num(r, 'lat_null_us'):.1f} µs per call (hotwrap − bare = "
        f"{num(r, 'lat_hotwrap_us') - num(r, 'lat_bare_us'):.1f} µs) |",
        f"| client streaming ceiling (null server echo, {r['stream_mib']} MiB) | "
        f"{num(r, 'stream_null_mibs'):.0f} MiB/s (hotwrap {num(r, 'stream_hotwrap_mibs'):.0f}) |",
        f"| row 1, least disturbed: 10th percentile of all calls, hotwrap / bare | "
        f"{num(r, 'lat_hotwrap_us_p10'):.0f} / {num(r, 'lat_bare_us_p10'):.0f} µs = {num(r, 'lat_p10_ratio'):.3f}× |",
        f"| row 1 spread: per-batch ratio min / max | {num(r, 'lat_ratio_min'):.3f} / {num(r, 'lat_ratio_max'):.3f} |",
        f"| row 2: CPU seconds per {r['stream_mib']} MiB call: client + hotwrap + cat vs the pipeline "
        f"(sh, head, cat, cat) | {num(r, 'stream_cpu_client_s'):.2f} + {num(r, 'stream_cpu_hotwrap_s'):.2f} + "
        f"{num(r, 'stream_cpu_cat_s'):.2f} = "
        f"{num(r, 'stream_cpu_client_s') + num(r, 'stream_cpu_hotwrap_s') + num(r, 'stream_cpu_cat_s'):.2f} vs "
        f"{num(r, 'stream_cpu_pipeline_s'):.2f} |",
        f"| row 2, least disturbed: best of {r['stream_reps']}, hotwrap / pipeline | "
        f"{num(r, 'stream_hotwrap_best_mibs'):.0f} / {num(r, 'stream_pipeline_best_mibs'):.0f} MiB/s = "
        f"{num(r, 'stream_best_ratio'):.3f}× |",
        f"| row 2 spread: per-pair ratio min / max | {num(r, 'stream_ratio_min'):.3f} / {num(r, 'stream_ratio_max'):.3f} |",
        f"| row 3: RSS after the streaming calls | {num(r, 'stream_rss_after_kib') / 1024:.2f} MiB |",
        f"| row 4: VmHWM of the idle instance (50 calls) | {num(r, 'idle_hwm_kib') / 1024:.2f} MiB |",
        f"| row 6: slowest of the starts | {num(r, 'start_hotwrap_us_max') / 1000:.3f} ms |",
        f"| row 7: floor — a process of node started ahead, written to directly (no hotwrap) | "
        f"{num(r, 'pre_floor_ms'):.2f} ms ({num(r, 'pre_floor_ratio'):.3f}× per-call spawn) |",
        f"| row 7, least disturbed: 10th percentile ratio prespawned / per-call spawn | "
        f"{num(r, 'pre_p10_ratio'):.3f}× |",
        f"| row 7: p90 prespawned / per-call spawn / floor | {num(r, 'pre_hot_ms_p90'):.2f} / "
        f"{num(r, 'pre_cold_ms_p90'):.2f} / {num(r, 'pre_floor_ms_p90'):.2f} ms |",
        f"| rows 8 and 9: floor — the null server over the same TCP, spawning `cat` for each call "
        f"with the bare loop's code (`null_server --spawn`), unpinned / on CPU 0 | "
        f"{num(r, 'http_lat_null_us'):.0f} µs = {num(r, 'http_lat_null_ratio'):.3f}× (p10 "
        f"{num(r, 'http_lat_null_p10_ratio'):.3f}×) / {num(r, 'pin_lat_null_us'):.0f} µs = "
        f"{num(r, 'pin_lat_null_ratio'):.3f}× (p10 {num(r, 'pin_lat_null_p10_ratio'):.3f}×) the bare loop; "
        f"hotwrap {num(r, 'http_lat_ratio'):.3f}× / {num(r, 'pin_lat_ratio'):.3f}× |",
        f"| row 11: floor — `null_server --spawn` relaying the body through `cat` (one thread, read and "
        f"write, 1 MiB pipes), in every repetition | {num(r, 'http_stream_floor_mibs'):.0f} MiB/s = "
        f"{num(r, 'http_stream_floor_ratio'):.3f}× the pipeline (hotwrap {num(r, 'http_stream_ratio'):.3f}×) |",
        f"| row 11, least disturbed: best of {r['http_stream_reps']}, hotwrap / floor / pipeline | "
        f"{num(r, 'http_stream_hotwrap_best_mibs'):.0f} / {num(r, 'http_stream_floor_best_mibs'):.0f} / "
        f"{num(r, 'http_stream_pipeline_best_mibs'):.0f} MiB/s: hotwrap {num(r, 'http_stream_best_ratio'):.3f}× "
        f"the pipeline, {num(r, 'http_stream_hotwrap_best_mibs') / num(r, 'http_stream_floor_best_mibs'):.3f}× "
        f"the floor |",
        f"| row 11 spread: per-repetition ratio min / max | {num(r, 'http_stream_ratio_min'):.3f} / "
        f"{num(r, 'http_stream_ratio_max'):.3f} |",
        f"| row 11, every repetition in MiB/s: pipeline / hotwrap / floor | {r.get('http_stream_pipeline_runs', '?')} / "
        f"{r.get('http_stream_hotwrap_runs', '?')} / {r.get('http_stream_floor_runs', '?')} |",
        f"| hotwrap warn/error log lines during the run | {r.get('hotwrap_warnings', '?')} |",
    ])


SHORT = {
    "1": "per-call latency (cat, 1 KiB)",
    "2": "512 MiB streamed through cat",
    "3": "peak RSS while streaming",
    "4": "idle RSS after 50 calls",
    "5": "static binary size",
    "6": "exec → lsnr.sock",
    "7": "prespawned node call",
}


def svg(rs, r):
    """Horizontal bars: the share of each goal used (≤ 1 meets it); for the ≥ goal of row 2 the
    share is goal / measured. The figures are in a column on the right."""
    w, left, area, top, bar_h, gap = 1180, 220, 420, 70, 26, 16
    h = top + len(rs) * (bar_h + gap) + 46
    vmax = max(2.0, max(v for *_, v, _ in rs) * 1.05)
    scale = area / vmax

    def x(v):
        return left + min(v, vmax) * scale

    e = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">'
           f'hotwrap benchmarks: share of each goal used (≤ 1 meets it)</text>',
           f'<text x="{w / 2}" y="42" text-anchor="middle" fill="#555">commit {e(r.get("commit", "?"))}, '
           f'{e(r.get("date", ""))}, {e(r.get("cpus", "?"))} CPUs, load {e(r.get("load_start", "?"))}, '
           f'interleaved medians</text>']
    step = 0.25 if vmax <= 2.5 else 0.5
    t = 0.0
    while t <= vmax + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 8}" x2="{x(t):.1f}" y2="{h - 36}" stroke="#eee"/>')
        out.append(f'<text x="{x(t):.1f}" y="{h - 22}" text-anchor="middle" fill="#555">{t:g}</text>')
        t += step
    # The least-disturbed figure of the rows that have one, as a marker on the bar.
    robust = {"1": num(r, "lat_p10_ratio") / 1.15, "2": 0.70 / max(num(r, "stream_best_ratio"), 1e-9),
              "7": num(r, "pre_p10_ratio") / 0.10}
    for i, (n, what, hw, base, ratio, goal, v, ok) in enumerate(rs):
        y = top + i * (bar_h + gap)
        mid = y + bar_h / 2 + 4
        out.append(f'<text x="{left - 8}" y="{mid}" text-anchor="end">{e(n + ". " + SHORT.get(n, what))}</text>')
        color = "#3a9a4a" if ok.startswith("PASS") else "#d0453a"
        out.append(f'<rect x="{left}" y="{y}" width="{max(min(v, vmax), 0.002) * scale:.1f}" '
                   f'height="{bar_h}" fill="{color}"/>')
        if n in robust:
            mx, my = x(robust[n]), y + bar_h / 2
            out.append(f'<path d="M{mx:.1f},{my - 8:.1f} l6,8 l-6,8 l-6,-8 z" fill="#111"/>')
        other = base.split(" (")[0]
        if "×" in ratio and "floor" not in ratio and other != "—":
            fig = f"{ratio.replace(' of ' + r.get('stream_reps', ''), '')}: {hw} vs {other}"
        elif other != "—":
            fig = f"{hw} (floor {other})"
        else:
            fig = hw
        out.append(f'<text x="{left + area + 16}" y="{mid}">{e(fig)}, goal {e(goal)}</text>')
        out.append(f'<text x="{w - 12}" y="{mid}" text-anchor="end" font-weight="bold" fill="{color}">'
                   f'{"PASS" if ok.startswith("PASS") else "MISS"}</text>')
    out.append(f'<line x1="{x(1):.1f}" y1="{top - 12}" x2="{x(1):.1f}" y2="{h - 36}" stroke="#000" '
               f'stroke-dasharray="5,3"/>')
    out.append(f'<text x="{x(1):.1f}" y="{top - 14}" text-anchor="middle">goal</text>')
    out.append(f'<text x="{left + area / 2}" y="{h - 6}" text-anchor="middle" fill="#555">bar: median, '
               f'◆: least disturbed (p10 / best of); measured / goal (row 2: goal / measured)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    r = load(sys.argv[1])
    rs = rows(r)
    print()
    print(table_text(rs))
    print()
    print(f"client + socket round trip (null server): {num(r, 'lat_null_us'):.1f} µs; "
          f"client streaming ceiling (null server): {num(r, 'stream_null_mibs'):.0f} MiB/s")
    print(f"CPU s per {r['stream_mib']} MiB call: client {num(r, 'stream_cpu_client_s'):.2f} + hotwrap "
          f"{num(r, 'stream_cpu_hotwrap_s'):.2f} + cat {num(r, 'stream_cpu_cat_s'):.2f} vs pipeline "
          f"{num(r, 'stream_cpu_pipeline_s'):.2f}")
    print(f"prespawn floor (node started ahead, no hotwrap): {num(r, 'pre_floor_ms'):.2f} ms")
    print(f"rows 8 and 9 floor (null_server --spawn on TCP): {num(r, 'http_lat_null_ratio'):.3f}× "
          f"unpinned, {num(r, 'pin_lat_null_ratio'):.3f}× on one CPU")
    print(f"row 11 floor (null_server --spawn relaying): {num(r, 'http_stream_floor_ratio'):.3f}×, best of "
          f"{r['http_stream_reps']} {num(r, 'http_stream_floor_best_ratio'):.3f}×")
    print(f"total runtime {r['runtime_s']} s; load average {r['load_start']} -> {r['load_end']}")
    md = [
        "# hotwrap benchmarks",
        "",
        f"Generated by `bench/run.sh` on {r['date']} — commit `{r['commit']}`"
        + (f" (+{r['dirty']} uncommitted or untracked source files)" if r.get("dirty", "0") != "0" else "")
        + f", kernel {r['kernel']}, {r['cpus']} × {r['cpu_model']}, node {r['node']}.",
        f"Load average {r['load_start']} at the start, {r['load_end']} at the end; the run took "
        f"{r['runtime_s']} s. Every ratio compares two sides measured interleaved in the same run "
        "(medians); absolute times depend on the machine and its load.",
        "",
        table_md(rs),
        "",
        "A row with a figure in brackets PASSes only if both the median and that least-disturbed figure "
        "(the 10th percentile, or the best of the repetitions) meet the goal: other load on a shared "
        "machine can slow either side more than the other, so a verdict that holds for one of them "
        "only is reported as a MISS that says which one met it. Row 11's pipeline has a fast mode that "
        "no server on this path reaches, the minimal one measured in the same repetitions (the floor) "
        "included: where the floor's figure is below the goal, hotwrap's must be at least 0.90× the "
        "floor's, and the verdict says \"against the floor\".",
        "",
        "![share of each goal used](results.svg)",
        "",
        "## Checks on the measurement",
        "",
        checks_md(r),
        "",
        "## How each row is measured",
        "",
        f"1. `client lat`: one kept-alive unix-socket connection; each call is `POST /call` with "
        f"`Transfer-Encoding: chunked`, `Fn-Call-Id`, `Fn-Deadline`, written as Go's transport does "
        f"(head + the one chunk in one write, the zero chunk in a second), and the whole response is "
        f"read and checked. Baseline: posix_spawnp of `cat` with stdin/stdout pipes, write the body, "
        f"close, read to EOF, waitpid, in the same process. {r['lat_batches']} batches × "
        f"{r['lat_calls']} calls per side (short batches: the load of a shared machine changes fast), "
        f"the sides alternating their order per batch, after 50 warm-up calls; the figure per side is "
        f"the median of the batch medians, the ratio the median of the per-batch ratios. The null "
        f"server (`bench/null_server.c`, same framing, no command) is a third side: the client's and "
        f"the socket's share of each call.",
        f"2. `client stream`: one call carrying {r['stream_mib']} MiB in {int(num(r, 'stream_chunk')) // 1024} KiB "
        f"chunks from a writer thread while the main thread reads the chunked response (hotwrap's "
        f"default 1 MiB buffer is exceeded, so it streams). Baseline: `head -c {r['stream_mib']}M /dev/zero "
        f"| cat | cat > /dev/null` run by `sh -c`. {r['stream_reps']} pairs run back to back, the order "
        f"alternating; figures are medians, the ratio the median of the per-pair ratios. CPU seconds: "
        f"getrusage of the client and of the pipeline, /proc/<pid>/stat of hotwrap (its own, and its "
        f"reaped children's: the cats). Then the same call against the null server: the client's "
        f"ceiling.",
        "3. VmHWM from /proc/<pid>/status of the instance that served only the streaming calls, read "
        "just before it is stopped.",
        "4. A fresh instance serves 50 calls (cat, 1 KiB) on one connection, which is then closed; VmRSS "
        "after 0.3 s idle. Floor: `bench/floor.c` (event_base_new, then pause), static, `-Os`. Median of 3.",
        "5. `stat` of the binary measured (static, stripped release build); floor: `bench/floor.c` "
        "linked `-static -Os -s --gc-sections -levent_core`.",
        "6. `startup`: inotify watch (IN_CREATE) on the socket directory, clock read just before "
        "posix_spawn, stopped at the IN_CREATE of lsnr.sock (the Fn agent's own readiness test); then "
        "SIGTERM. 2 warm-up starts. Floor: posix_spawn → exit of `floor exit`.",
        f"7. `client prespawn`: two hotwrap instances running `node func.js`, one with "
        f"`HOTWRAP_PRESPAWN=1`; {r['pre_calls']} calls each, alternating, each after {r['pre_sleep_ms']} ms "
        f"idle; body `{{\"name\":\"Bench\"}}`, answer checked. The floor side is the client itself "
        f"keeping a node process started ahead and writing to it directly.",
        "8. As row 1, against hotwrap in the http contract (`HOTWRAP_CONTRACT=http`, its defaults: "
        "metrics on, on a port of their own) over a kept-alive TCP connection to 127.0.0.1 with "
        "TCP_NODELAY; the request is the same (the http contract takes any path and ignores Fn's "
        "headers). The third side is a floor instead of the null server: `null_server --spawn` on "
        "TCP, which reads each request, runs `cat` on its body with the bare loop's code and answers "
        "with the output, the least any server over TCP adds to the bare loop.",
        "9. Row 8 with hotwrap (and so its commands), the floor server and the client, which also runs "
        "the bare loop, all started under `taskset -c 0`: every process shares one CPU, as on a "
        "one-vCPU instance.",
        f"10. `client conc`: {r.get('conc_threads', '8')} threads, each with its own kept-alive "
        f"connection, make {r.get('conc_calls', '?')} calls each as fast as they can; against "
        f"{r.get('conc_threads', '8')} threads each running the bare spawn loop. Calls per second from "
        f"the moment all are connected to the last answer; {r.get('conc_reps', '?')} repetitions, the "
        f"order alternating; the ratio is the median of the per-repetition ratios.",
        "11. As row 2, against the http contract on TCP, with a third side in every repetition, the "
        "order rotating: its floor, `null_server --spawn` on TCP, which relays the body through `cat` "
        "as hotwrap does (one thread, `cat`'s pipes grown to 1 MiB, its output sent on as chunks while "
        "the body still arrives) with plain reads and writes, and nothing else.",
        "12. As row 4, in the http contract, over TCP.",
        "",
    ]
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(md))
    with open(sys.argv[3], "w") as f:
        f.write(svg(rs, r))
    print(f"wrote {sys.argv[2]} and {sys.argv[3]}")


if __name__ == "__main__":
    main()

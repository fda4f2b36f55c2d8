//! The HTML report: one self-contained file (inline CSS, SVG and a few
//! lines of script; nothing fetched). Per session: its metadata, the QoE
//! table of its views, one timeline lane per view with the findings at the
//! moment they happened, and the findings with their records.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::checks::{seconds, Finding, Rule};
use super::timeline::{bitrate, SessionTimeline, ViewTimeline};

/// Totals shown at the top.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub beacons: usize,
    pub records: usize,
    /// Body formats seen, e.g. "NDJSON (gzip)".
    pub formats: BTreeSet<String>,
    pub problems: usize,
    pub generated: String,
    /// False while kino-inspect is still receiving.
    pub complete: bool,
}

const WIDTH: f64 = 900.0;
const LEFT: f64 = 120.0;
const LANE_HEIGHT: f64 = 150.0;

/// Escapes text for HTML (element content and quoted attributes).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn state_color(kind: &str) -> &'static str {
    match kind {
        "playing" => "#2e9d4a",
        "paused" => "#a8a8a8",
        "buffering" => "#d64541",
        "seeking" => "#f39c12",
        "loading" => "#5b8def",
        "ended" => "#444",
        "error" => "#8e1b1b",
        _ => "#d9d9d9",
    }
}

/// The whole report.
pub fn render(summary: &Summary, sessions: &[SessionTimeline], findings: &[Finding]) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<title>kino-inspect report</title>\n<style>\n",
        include_str!("report.css"),
        "</style></head>\n<body>\n"
    ));
    let _ = write!(
        h,
        "<h1>kino-inspect</h1>\n<p class=\"summary\">{} beacons ({}), {} records, {} sessions, \
         {} findings, {} delivery problems. {} at {}.</p>\n",
        summary.beacons,
        esc(&summary
            .formats
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")),
        summary.records,
        sessions.len(),
        findings.len(),
        summary.problems,
        if summary.complete {
            "Final report"
        } else {
            "Still receiving: rules that need the end of the stream are checked at exit. Written"
        },
        esc(&summary.generated),
    );
    legend(&mut h);
    if findings.is_empty() {
        h.push_str("<p class=\"clean\">No rule of docs/EVENTS.md was broken.</p>\n");
    } else {
        rule_table(&mut h, findings);
    }
    for (si, s) in sessions.iter().enumerate() {
        let mine: Vec<(usize, &Finding)> = findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.session == s.session)
            .collect();
        session(&mut h, si, s, &mine);
    }
    h.push_str(concat!(
        "<script>\n",
        include_str!("report.js"),
        "</script>\n"
    ));
    h.push_str("</body></html>\n");
    h
}

fn legend(h: &mut String) {
    h.push_str("<p class=\"legend\">");
    for kind in [
        "loading",
        "playing",
        "paused",
        "buffering",
        "seeking",
        "ended",
        "error",
    ] {
        let _ = write!(
            h,
            "<span><i style=\"background:{}\"></i>{kind}</span>",
            state_color(kind)
        );
    }
    h.push_str(
        "<span><i class=\"k stall\"></i>stall</span><span><i class=\"k seek\"></i>seek</span>\
         <span><i class=\"k pause\"></i>pause</span><span><i class=\"k error\"></i>error event</span>\
         <span><i class=\"k heartbeat\"></i>heartbeat</span>\
         <span><i class=\"k finding\"></i>finding</span></p>\n",
    );
}

fn rule_table(h: &mut String, findings: &[Finding]) {
    h.push_str("<table class=\"rules\"><tr><th>rule</th><th>findings</th><th>what docs/EVENTS.md asks</th></tr>\n");
    for rule in Rule::ALL {
        let n = findings.iter().filter(|f| f.rule == rule).count();
        if n > 0 {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{n}</td><td>{}</td></tr>",
                rule.code(),
                esc(rule.advice())
            );
        }
    }
    h.push_str("</table>\n");
}

fn session(h: &mut String, si: usize, s: &SessionTimeline, findings: &[(usize, &Finding)]) {
    let _ = write!(
        h,
        "<section class=\"session\" id=\"s{si}\"><h2>Session {}</h2>\n<p>{} view{}, {} record{} outside any view.</p>\n",
        esc(&s.session),
        s.views.len(),
        if s.views.len() == 1 { "" } else { "s" },
        s.outside,
        if s.outside == 1 { "" } else { "s" },
    );
    if !s.metadata.is_empty() {
        h.push_str("<dl class=\"meta\">");
        for (k, v) in &s.metadata {
            let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
        }
        h.push_str("</dl>\n");
    }
    qoe_table(h, s);
    for v in &s.views {
        lane(h, v, findings);
    }
    if !findings.is_empty() {
        h.push_str("<h3>Findings</h3>\n<ol class=\"findings\">\n");
        for (i, f) in findings {
            let at =
                f.at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .unwrap_or_default();
            let link = f
                .view
                .as_deref()
                .map(|v| format!(" <a href=\"#lane-{}\">view {}</a>", esc(v), esc(short(v))))
                .unwrap_or_default();
            let _ = writeln!(
                h,
                "<li id=\"f{i}\" class=\"finding\" data-rule=\"{}\"><b>{}</b> #{} {}{link}: {}\
                 <details><summary>record</summary><pre>{}</pre></details></li>",
                f.rule.code(),
                f.rule.code(),
                f.sequence.map_or("?".into(), |s| s.to_string()),
                esc(&at),
                esc(&f.message),
                esc(&serde_json::to_string_pretty(&f.record).unwrap_or_default()),
            );
        }
        h.push_str("</ol>\n");
    }
    h.push_str("</section>\n");
}

fn fig(q: &serde_json::Value, key: &str, decimals: usize) -> String {
    match &q[key] {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => format!("{x:.decimals$}"),
            _ => n.to_string(),
        },
        serde_json::Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        serde_json::Value::Null => "–".into(),
        other => esc(&other.to_string()),
    }
}

fn qoe_table(h: &mut String, s: &SessionTimeline) {
    let keys: BTreeSet<&String> = s.views.iter().flat_map(|v| v.metadata.keys()).collect();
    h.push_str("<table class=\"qoe\"><tr><th>view</th><th>url</th>");
    for col in [
        "score",
        "startup s",
        "stalls",
        "stall s",
        "rebuffer ratio",
        "seeks",
        "seek latency s",
        "avg bitrate",
        "switches",
        "errors",
        "watch s",
        "failed",
    ] {
        let _ = write!(h, "<th>{col}</th>");
    }
    for k in &keys {
        let _ = write!(h, "<th class=\"m\">{}</th>", esc(k));
    }
    h.push_str("</tr>\n");
    for v in &s.views {
        let _ = write!(
            h,
            "<tr><td><a href=\"#lane-{}\">{}</a></td><td class=\"url\">{}</td>",
            esc(&v.view_id),
            esc(short(&v.view_id)),
            esc(&v.url)
        );
        match &v.qoe {
            Some(q) => {
                let avg = q["average_bitrate"].as_u64().map_or("–".into(), bitrate);
                for cell in [
                    fig(q, "score", 1),
                    fig(q, "initial_buffer_time", 3),
                    fig(q, "rebuffer_count", 0),
                    fig(q, "rebuffer_duration", 3),
                    fig(q, "rebuffer_ratio", 4),
                    fig(q, "seek_count", 0),
                    fig(q, "average_seek_latency", 3),
                    avg,
                    fig(q, "quality_switches", 0),
                    fig(q, "error_count", 0),
                    fig(q, "watch_time", 2),
                    fig(q, "playback_failed", 0),
                ] {
                    let _ = write!(h, "<td>{cell}</td>");
                }
            }
            None => h.push_str("<td colspan=\"12\" class=\"open\">open: no qoe record yet</td>"),
        }
        for k in &keys {
            let _ = write!(
                h,
                "<td class=\"m\">{}</td>",
                esc(v.metadata.get(*k).map_or("", String::as_str))
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// One view's lane: state band, rendition steps, markers, findings.
fn lane(h: &mut String, v: &ViewTimeline, findings: &[(usize, &Finding)]) {
    let span = v.duration.max(0.001);
    let x = |t: f64| LEFT + (t / span).clamp(0.0, 1.0) * WIDTH;
    let mine: Vec<&(usize, &Finding)> = findings
        .iter()
        .filter(|(_, f)| f.view.as_deref() == Some(v.view_id.as_str()))
        .collect();
    let _ = write!(
        h,
        "<h3 id=\"lane-{id}\">View {short} <small>{url}{live}</small></h3>\n\
         <svg class=\"lane\" data-view=\"{id}\" data-url=\"{url}\" data-findings=\"{nf}\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{lh}\" viewBox=\"0 0 {w} {lh}\" role=\"img\">\n\
         <text class=\"row\" x=\"4\" y=\"16\">player state</text>\
         <text class=\"row\" x=\"4\" y=\"56\">rendition</text>\
         <text class=\"row\" x=\"4\" y=\"96\">events</text>\
         <text class=\"row\" x=\"4\" y=\"118\">findings</text>\n",
        id = esc(&v.view_id),
        short = esc(short(&v.view_id)),
        url = esc(&v.url),
        live = if v.is_live { " (live)" } else { "" },
        nf = mine.len(),
        w = LEFT + WIDTH + 20.0,
        lh = LANE_HEIGHT,
    );
    for s in &v.states {
        let _ = writeln!(
            h,
            "<rect class=\"state\" data-state=\"{k}\" x=\"{:.1}\" y=\"4\" width=\"{:.1}\" height=\"16\" fill=\"{}\">\
             <title>{k} {:.2}–{:.2} s</title></rect>",
            x(s.from),
            (x(s.to) - x(s.from)).max(0.5),
            state_color(&s.kind),
            s.from,
            s.to,
            k = esc(&s.kind),
        );
    }
    // Rendition steps: a step line scaled to the view's highest bitrate.
    let top = v
        .renditions
        .iter()
        .map(|s| s.bitrate)
        .max()
        .unwrap_or(0)
        .max(1);
    let y = |b: u64| 70.0 - (b as f64 / top as f64) * 36.0;
    for (i, s) in v.renditions.iter().enumerate() {
        let end = v.renditions.get(i + 1).map_or(span, |n| n.at);
        let _ = writeln!(
            h,
            "<g class=\"rendition\" data-bitrate=\"{}\"><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text><title>{} from {:.2} s</title></g>",
            s.bitrate,
            x(s.at),
            y(s.bitrate),
            x(end),
            y(s.bitrate),
            x(s.at) + 2.0,
            y(s.bitrate) - 3.0,
            esc(&s.label),
            esc(&s.label),
            s.at,
        );
        if let Some(next) = v.renditions.get(i + 1) {
            let _ = writeln!(
                h,
                "<line class=\"riser\" x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\"/>",
                x(next.at),
                y(s.bitrate),
                y(next.bitrate)
            );
        }
    }
    for s in &v.stalls {
        let _ = writeln!(
            h,
            "<rect class=\"marker stall\" x=\"{:.1}\" y=\"84\" width=\"{:.1}\" height=\"16\">\
             <title>stall {:.2}–{:.2} s ({:.2} s)</title></rect>",
            x(s.from),
            (x(s.to) - x(s.from)).max(2.0),
            s.from,
            s.to,
            s.to - s.from
        );
    }
    for m in &v.marks {
        let cx = x(m.at);
        let shape = match m.kind {
            "heartbeat" => format!("<line x1=\"{cx:.1}\" y1=\"86\" x2=\"{cx:.1}\" y2=\"98\"/>"),
            "seek" => format!(
                "<path d=\"M{:.1},84 L{:.1},92 L{:.1},100 Z\"/>",
                cx - 5.0,
                cx + 5.0,
                cx - 5.0
            ),
            "pause" => format!(
                "<rect x=\"{:.1}\" y=\"85\" width=\"3\" height=\"14\"/><rect x=\"{:.1}\" y=\"85\" width=\"3\" height=\"14\"/>",
                cx - 4.0,
                cx + 1.0
            ),
            "error" | "fatal" => format!(
                "<path d=\"M{:.1},85 L{:.1},99 M{:.1},85 L{:.1},99\"/>",
                cx - 6.0,
                cx + 6.0,
                cx + 6.0,
                cx - 6.0
            ),
            "quality" => format!("<circle cx=\"{cx:.1}\" cy=\"92\" r=\"3\"/>"),
            _ => format!("<path d=\"M{cx:.1},84 L{cx:.1},100 M{cx:.1},84 L{:.1},88 L{cx:.1},92\"/>", cx + 7.0),
        };
        let class = if m.kind == "fatal" {
            "error fatal"
        } else {
            m.kind
        };
        let _ = writeln!(
            h,
            "<g class=\"marker {class}\" data-sequence=\"{}\">{shape}<title>#{} +{:.2} s {}</title></g>",
            m.sequence.unwrap_or(0),
            m.sequence.unwrap_or(0),
            m.at,
            esc(&m.label)
        );
    }
    for (i, f) in &mine {
        let at = f.at.map_or(span, |t| seconds(v.start, t).max(0.0));
        let cx = x(at);
        let _ = writeln!(
            h,
            "<g class=\"marker finding\" data-finding=\"f{i}\" data-rule=\"{}\" tabindex=\"0\">\
             <path d=\"M{cx:.1},106 L{:.1},122 L{:.1},122 Z\"/><title>{}: {}</title></g>",
            f.rule.code(),
            cx + 8.0,
            cx - 8.0,
            f.rule.code(),
            esc(&f.message)
        );
    }
    // Time axis.
    let step = nice_step(span);
    let mut t = 0.0;
    h.push_str("<g class=\"axis\">");
    let _ = write!(
        h,
        "<line x1=\"{LEFT}\" y1=\"130\" x2=\"{:.1}\" y2=\"130\"/>",
        LEFT + WIDTH
    );
    while t <= span + 1e-9 {
        let label = if span < 1.0 {
            format!("{}ms", trim(t * 1000.0))
        } else {
            format!("{}s", trim(t))
        };
        let _ = write!(
            h,
            "<line x1=\"{0:.1}\" y1=\"130\" x2=\"{0:.1}\" y2=\"134\"/><text x=\"{0:.1}\" y=\"146\">{label}</text>",
            x(t),
        );
        t += step;
    }
    h.push_str("</g></svg>\n");
}

fn trim(t: f64) -> String {
    let s = format!("{t:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A tick spacing giving about 10 ticks over `span` seconds.
fn nice_step(span: f64) -> f64 {
    let raw = span / 10.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    (nice * mag).max(0.001)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_ticks_are_round() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(nice_step(100.0), 10.0);
        assert_eq!(nice_step(7.3), 1.0);
        assert_eq!(nice_step(0.5), 0.05);
        assert_eq!(trim(2.50), "2.5");
        assert_eq!(trim(3.0), "3");
    }
}

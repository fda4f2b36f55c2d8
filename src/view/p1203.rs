//! The ITU-T P.1203 export of a view (see [`super::ViewTracker::p1203_json`]).

use serde_json::{json, Value};

use super::state::{finite, push_segment, seconds_between, Segment, View};
use super::P1203_DEFAULT_AUDIO_KBPS;
use crate::clock::Mono;

impl View {
    /// The P.1203 input (see [`super::ViewTracker::p1203_json`]).
    pub(super) fn p1203(&self, fps: f64, now: Mono) -> Value {
        let end = self.end(now);
        let mut segments = self.segments.clone();
        if let Some(since) = self.playing_since {
            push_segment(
                &mut segments,
                Segment {
                    start: self.totals.playing_time,
                    duration: seconds_between(since, end),
                    rendition: self.rendition,
                },
            );
        }
        let mut stalls = Vec::with_capacity(self.stalls.len() + 2);
        if let Some(initial) = self.started_at.map(|s| seconds_between(self.load_at, s)) {
            if initial > 0.0 {
                stalls.push([0.0, initial]);
            }
        }
        stalls.extend_from_slice(&self.stalls);
        if let Some(stall) = self.stall {
            stalls.push([stall.position, seconds_between(stall.since, end)]);
        }
        let fps = if fps.is_finite() && fps > 0.0 {
            fps
        } else {
            0.0
        };
        let known: Vec<(&Segment, u64)> = segments
            .iter()
            .filter_map(|s| s.rendition.bitrate.map(|b| (s, b)))
            .collect();
        let video: Vec<Value> = known
            .iter()
            .map(|(s, bitrate)| {
                let mut v = json!({
                    "codec": "h264",
                    "bitrate": *bitrate as f64 / 1000.0,
                    "fps": fps,
                    "start": finite(s.start),
                    "duration": finite(s.duration),
                });
                if let Some(r) = s.rendition.resolution {
                    v["resolution"] = json!(format!("{}x{}", r.width, r.height));
                }
                v
            })
            .collect();
        let audio: Vec<Value> = known
            .iter()
            .map(|(s, _)| {
                json!({
                    "codec": "aaclc",
                    "bitrate": P1203_DEFAULT_AUDIO_KBPS,
                    "start": finite(s.start),
                    "duration": finite(s.duration),
                })
            })
            .collect();
        let stalling: Vec<[f64; 2]> = stalls
            .iter()
            .map(|[p, d]| [finite(*p), finite(*d)])
            .collect();
        json!({
            "I11": {"segments": audio, "streamId": 1},
            "I13": {"segments": video, "streamId": 1},
            "I23": {"stalling": stalling, "streamId": 1},
            "IGen": {"device": "pc", "displaySize": "1920x1080", "viewingDistance": "150cm"},
        })
    }
}

//! # kino — playback analytics for native video players
//!
//! A player engine calls `kino_emit_*` (the C ABI in [`ffi`]) from its
//! playback callbacks. The path of one event:
//!
//! 1. [`ffi`] checks pointers, UTF-8 and enum values, and converts C types.
//! 2. [`emitter::Emitter::emit`] validates ([`sanitize`]), stamps the
//!    sequence number and time, and `try_send`s into a bounded channel —
//!    never blocking, never waking the worker on the normal path.
//! 3. [`worker`] drains the channel when there is work, feeds the QoE
//!    tracker ([`view`]), and cuts batches by size, interval or urgency
//!    (with a [`spool`], writing them to disk first).
//! 4. [`transport`] delivers a batch: [`transport::http`] POSTs it with
//!    ureq, or [`transport::callback`] hands it to the host's callback.
//!
//! [`event`] is the wire format (CONTRACT.md §3) and [`figures`] a view's
//! QoE record; [`config`] is the validated configuration; [`stats`] the
//! delivery counters; [`clock`] the two clocks (monotonic for durations,
//! wall for timestamps); [`otlp`] re-encodes a beacon as OpenTelemetry
//! logs (OTLP/JSON). Context (issue 9): [`metadata`] (keys, values,
//! layers; [`platform`] fills kino's own keys), [`sampling`] (which
//! sessions are collected), [`cmcd`] (CTA-5004 for the CDN's logs); the
//! emitter's side of them is in `emitter/context.rs`, the worker's in
//! `worker/context.rs`.

pub mod batch;
pub mod clock;
pub mod cmcd;
pub mod config;
pub mod emitter;
pub mod error;
pub mod event;
pub mod ffi;
pub mod figures;
pub mod ids;
pub mod metadata;
pub mod otlp;
pub mod platform;
pub mod qoe;
pub mod retry;
pub mod sampling;
pub mod sanitize;
pub mod spool;
pub mod stats;
pub mod transport;
pub mod view;
pub mod worker;

pub use config::Config;
pub use emitter::Emitter;
pub use error::{Error, ErrorKind};
pub use event::{
    AnalyticsEvent, AnalyticsEventRecord, PlayerState, QualityChangeReason, Resolution,
};

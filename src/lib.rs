//! # kino — playback analytics for native video players
//!
//! A player engine calls `kino_emit_*` (the C ABI in [`ffi`]) from its
//! playback callbacks. The path of one event:
//!
//! 1. [`ffi`] checks pointers, UTF-8 and enum values, and converts C types.
//! 2. [`emitter::Emitter::emit`] validates ([`sanitize`]), stamps the
//!    sequence number and time, and `try_send`s into a bounded channel —
//!    never blocking, never waking the worker on the normal path.
//! 3. [`worker`] drains the channel on its own timer, feeds the QoE
//!    tracker ([`qoe`]), and cuts batches by size, interval or urgency.
//! 4. [`transport`] delivers a batch: [`transport::http`] POSTs it with
//!    ureq, or [`transport::callback`] hands it to the host's callback.
//!
//! [`event`] is the wire format (CONTRACT.md §3); [`config`] is the
//! validated configuration; [`stats`] the delivery counters.

pub mod batch;
pub mod config;
pub mod emitter;
pub mod error;
pub mod event;
pub mod ffi;
pub mod ids;
pub mod qoe;
pub mod retry;
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

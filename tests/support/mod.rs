//! Shared test support: a real HTTP collector and the C build helpers.
#![allow(dead_code)]

pub mod cbuild;
pub mod chdb;
pub mod collector;
pub mod emitting;
pub mod hls;
pub mod players;

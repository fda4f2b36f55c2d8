//! Offline spool: placeholder with the agreed API (stores nothing) until
//! the real module lands in the next commit.
#![allow(missing_docs, dead_code, clippy::all)]

use std::path::Path;
use std::time::Duration;

use crate::error::Result;

pub struct Spool;
pub struct Claimed;
#[derive(Default)]
pub struct Evicted {
    pub files: u64,
    pub events: u64,
    pub own_events: u64,
}

impl Claimed {
    pub fn body(&self) -> &[u8] {
        b"[]"
    }
    pub fn events(&self) -> u64 {
        0
    }
    pub fn is_own(&self) -> bool {
        true
    }
}

impl Spool {
    pub fn open(_dir: &Path, _max_bytes: u64, _max_age: Duration) -> Result<Spool> {
        Ok(Spool)
    }
    pub fn write(&mut self, _body: &[u8], _events: u64) -> Result<()> {
        Ok(())
    }
    pub fn claim_oldest(&mut self) -> Option<Claimed> {
        None
    }
    pub fn ack(&mut self, _claimed: Claimed) -> Result<()> {
        Ok(())
    }
    pub fn release(&mut self, _claimed: Claimed) {}
    pub fn take_evicted(&mut self) -> Evicted {
        Evicted::default()
    }
    pub fn corrupt_files(&self) -> u64 {
        0
    }
    pub fn own_pending_events(&self) -> u64 {
        0
    }
}

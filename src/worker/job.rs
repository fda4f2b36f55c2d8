//! The batch being delivered, and where its events are counted.

use std::collections::VecDeque;

use super::shared::BacklogHold;
use crate::batch::Part;
use crate::clock::Mono;
use crate::spool::Claimed;

/// Where the batch being delivered came from, which says how its events
/// are counted when it is settled.
pub(crate) enum Source {
    /// This emitter's events in memory (`in_memory`).
    Memory,
    /// A spool file this worker wrote and has claimed (`spooled`).
    OwnFile(Claimed),
    /// A spool file of a writer that is gone, taken over (`resent`).
    Orphan(Claimed),
}

impl Source {
    /// The spool file claimed for this batch, if it came from one.
    pub fn into_claimed(self) -> Option<Claimed> {
        match self {
            Source::Memory => None,
            Source::OwnFile(c) | Source::Orphan(c) => Some(c),
        }
    }
}

/// The batch being delivered, held until every part is dealt with. A
/// batch being retried holds back later ones (unless they go to disk).
pub(crate) struct Job {
    /// Bodies still to send, oldest first (a 413 splits the head).
    pub parts: VecDeque<Part>,
    pub source: Source,
    /// Failed attempts of the head part so far.
    pub attempts: u32,
    /// Server errors in a row for the head part, and when the first came
    /// (see `ServerErrorLimit`).
    pub server_errors: u32,
    pub first_server_error: Option<Mono>,
    /// No attempt before this (back-off or `Retry-After`).
    pub not_before: Mono,
    /// For a batch from the memory backlog: later batches wait behind it.
    pub _hold: Option<BacklogHold>,
}

impl Job {
    /// The head part is dealt with: the next one starts afresh.
    pub fn next_part(&mut self) {
        self.parts.pop_front();
        self.attempts = 0;
        self.server_errors = 0;
        self.first_server_error = None;
    }

    /// A job for `parts` from `source`, to be tried now.
    pub fn new(parts: VecDeque<Part>, source: Source) -> Job {
        Job {
            parts,
            source,
            attempts: 0,
            server_errors: 0,
            first_server_error: None,
            not_before: Mono::now(),
            _hold: None,
        }
    }

    /// A job for a batch taken from the memory backlog.
    pub fn from_backlog(part: Part, hold: BacklogHold) -> Job {
        Job {
            _hold: Some(hold),
            ..Job::new(VecDeque::from([part]), Source::Memory)
        }
    }

    /// A job for a claimed spool file.
    pub fn from_file(claimed: Claimed) -> Job {
        let part = Part {
            json: claimed.body().to_vec(),
            events: claimed.events(),
        };
        let source = if claimed.is_own() {
            Source::OwnFile(claimed)
        } else {
            Source::Orphan(claimed)
        };
        Job::new(VecDeque::from([part]), source)
    }
}

//! When the worker wakes next: a pure function of what it holds, so each
//! case is unit-tested without threads or clocks.
//!
//! The rule: wake only when there is work. With nothing pending the worker
//! sleeps with no timeout until an event arrives (the channel wakes it:
//! one wake per idle → busy transition), a caller asks (flush, free, an
//! urgent event, a batch's worth queued), or never.

use std::time::Duration;

use crate::clock::Mono;

/// What the worker holds when it is about to sleep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Situation {
    pub now: Mono,
    /// Events in the inbox, not yet cut into a batch.
    pub pending: usize,
    /// Batches in the memory backlog (the spool refused them). They are
    /// sent one at a time as the batch in hand, so they are work only
    /// while no batch is in hand.
    pub backlog: usize,
    /// An `end` or fatal `error` is among them.
    pub urgent: bool,
    /// When the oldest of them was emitted.
    pub oldest: Option<Mono>,
    pub batch_size: usize,
    pub flush_interval: Duration,
    /// A flush is waiting: everything pending is due.
    pub flush_waiting: bool,
    /// The batch in hand, if any, may be tried again from this time.
    pub job_retry_at: Option<Mono>,
    /// A spool is open: due batches go to disk even while a batch in hand
    /// waits to be retried.
    pub spooling: bool,
    /// The spool may hold a batch this worker can send (own files, or
    /// orphans found by the last listing) and no claim has failed since.
    pub spool_ready: bool,
}

/// When to wake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// There is work now.
    Now,
    /// At this time (a retry, or the flush interval of pending events),
    /// or earlier if a caller wakes the worker.
    At(Mono),
    /// At this time (the retry of the batch in hand), or earlier if a
    /// caller wakes the worker or an event arrives: nothing is pending, and
    /// with a spool the next events go to disk at their flush interval, not
    /// at the retry (one wake per idle → busy transition, as [`Wake::Idle`]).
    AtOrEvent(Mono),
    /// Only when a caller wakes it or an event arrives.
    Idle,
}

/// The next wake for `s`.
pub(crate) fn next_wake(s: &Situation) -> Wake {
    let mut at: Option<Mono> = None;
    let mut consider = |t: Mono| at = Some(at.map_or(t, |a| a.min(t)));
    let holding = s.job_retry_at.is_some();
    if let Some(t) = s.job_retry_at {
        consider(t);
    }
    if s.pending > 0 && (!holding || s.spooling) {
        let full = s.urgent || s.pending >= s.batch_size || s.flush_waiting;
        match (full, s.oldest) {
            (true, _) | (false, None) => consider(s.now),
            (false, Some(oldest)) => consider(oldest.plus(s.flush_interval)),
        }
    }
    if !holding && (s.spool_ready || s.backlog > 0) {
        consider(s.now);
    }
    match at {
        None => Wake::Idle,
        Some(t) if t <= s.now => Wake::Now,
        // New events could go to disk before then (not behind a backlog the
        // disk refused: they would join it).
        Some(t) if s.pending == 0 && s.spooling && s.backlog == 0 => Wake::AtOrEvent(t),
        Some(t) => Wake::At(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle_at(ms: u64) -> Situation {
        Situation {
            now: Mono::from_millis(ms),
            pending: 0,
            backlog: 0,
            urgent: false,
            oldest: None,
            batch_size: 50,
            flush_interval: Duration::from_secs(10),
            flush_waiting: false,
            job_retry_at: None,
            spooling: false,
            spool_ready: false,
        }
    }

    #[test]
    fn nothing_pending_sleeps_without_a_timeout() {
        assert_eq!(next_wake(&idle_at(1000)), Wake::Idle);
        let spool_idle = Situation {
            spooling: true,
            ..idle_at(1000)
        };
        assert_eq!(
            next_wake(&spool_idle),
            Wake::Idle,
            "an open spool alone is no work"
        );
    }

    #[test]
    fn pending_events_wake_at_their_flush_deadline() {
        let s = Situation {
            pending: 3,
            oldest: Some(Mono::from_millis(400)),
            ..idle_at(1000)
        };
        assert_eq!(next_wake(&s), Wake::At(Mono::from_millis(10_400)));
        let overdue = Situation {
            now: Mono::from_millis(10_400),
            ..s
        };
        assert_eq!(next_wake(&overdue), Wake::Now);
    }

    #[test]
    fn a_full_batch_an_urgent_event_or_a_flush_is_work_now() {
        let base = Situation {
            pending: 3,
            oldest: Some(Mono::from_millis(900)),
            ..idle_at(1000)
        };
        for s in [
            Situation {
                pending: 50,
                ..base
            },
            Situation {
                urgent: true,
                ..base
            },
            Situation {
                flush_waiting: true,
                ..base
            },
        ] {
            assert_eq!(next_wake(&s), Wake::Now, "{s:?}");
        }
    }

    #[test]
    fn a_batch_waiting_to_be_retried_holds_back_the_rest_unless_they_can_go_to_disk() {
        let retrying = Situation {
            pending: 80,
            oldest: Some(Mono::from_millis(100)),
            job_retry_at: Some(Mono::from_millis(5000)),
            ..idle_at(1000)
        };
        assert_eq!(next_wake(&retrying), Wake::At(Mono::from_millis(5000)));
        let spooling = Situation {
            spooling: true,
            ..retrying
        };
        assert_eq!(
            next_wake(&spooling),
            Wake::Now,
            "full batches go to disk meanwhile"
        );
        let due = Situation {
            now: Mono::from_millis(5000),
            ..retrying
        };
        assert_eq!(next_wake(&due), Wake::Now);
    }

    #[test]
    fn with_a_spool_an_event_arriving_while_a_batch_waits_for_its_retry_wakes_the_worker() {
        let retrying = Situation {
            job_retry_at: Some(Mono::from_millis(60_000)),
            ..idle_at(1000)
        };
        assert_eq!(
            next_wake(&retrying),
            Wake::At(Mono::from_millis(60_000)),
            "no spool: new events wait for the retry anyway"
        );
        let spooling = Situation {
            spooling: true,
            ..retrying
        };
        assert_eq!(
            next_wake(&spooling),
            Wake::AtOrEvent(Mono::from_millis(60_000)),
            "the next event goes to disk at its flush interval"
        );
        let pending = Situation {
            pending: 3,
            oldest: Some(Mono::from_millis(900)),
            ..spooling
        };
        assert_eq!(
            next_wake(&pending),
            Wake::At(Mono::from_millis(10_900)),
            "once events are pending, their deadline: no wake per event"
        );
    }

    #[test]
    fn a_spool_with_sendable_batches_is_work_unless_one_is_in_hand() {
        let ready = Situation {
            spooling: true,
            spool_ready: true,
            ..idle_at(1000)
        };
        assert_eq!(next_wake(&ready), Wake::Now);
        let in_hand = Situation {
            job_retry_at: Some(Mono::from_millis(61_000)),
            ..ready
        };
        assert_eq!(
            next_wake(&in_hand),
            Wake::AtOrEvent(Mono::from_millis(61_000)),
            "the retry, or the next event (it goes to disk)"
        );
    }

    #[test]
    fn a_memory_backlog_is_work_unless_a_batch_is_in_hand() {
        let backlog = Situation {
            spooling: true,
            backlog: 3,
            ..idle_at(1000)
        };
        assert_eq!(next_wake(&backlog), Wake::Now);
        let in_hand = Situation {
            job_retry_at: Some(Mono::from_millis(61_000)),
            ..backlog
        };
        assert_eq!(
            next_wake(&in_hand),
            Wake::At(Mono::from_millis(61_000)),
            "the backlog is sent after the batch in hand: no reason to wake before its retry"
        );
    }
}

//! The machine's timers, one slot per kind; replacing or clearing a slot
//! drops the `gloo_timers` `Timeout`, which cancels it.

use crate::machine::Timer;
use gloo_timers::callback::Timeout;

const KINDS: usize = 5;

fn slot(timer: Timer) -> usize {
    match timer {
        Timer::Reconnect => 0,
        Timer::ConnectTimeout => 1,
        Timer::Heartbeat => 2,
        Timer::Stable => 3,
        Timer::Linger => 4,
    }
}

/// Pending timers of the page's client.
#[derive(Default)]
pub(crate) struct Timers {
    slots: [Option<Timeout>; KINDS],
}

impl Timers {
    /// Start `timer` in `ms`, cancelling a pending one of the same kind.
    pub(crate) fn set(&mut self, timer: Timer, ms: u64, fire: fn(Timer)) {
        let ms = u32::try_from(ms).unwrap_or(u32::MAX).min(i32::MAX as u32);
        self.slots[slot(timer)] = Some(Timeout::new(ms, move || fire(timer)));
    }

    /// Cancel `timer` if pending.
    pub(crate) fn cancel(&mut self, timer: Timer) {
        self.slots[slot(timer)] = None;
    }

    /// Forget a timer that just fired, returning it so the caller drops it
    /// outside any borrow.
    pub(crate) fn take(&mut self, timer: Timer) -> Option<Timeout> {
        self.slots[slot(timer)].take()
    }
}

//! Browser glue: the one socket, the timers and the page listeners.
//!
//! Nothing here decides anything: events from web-sys become
//! [`crate::machine::Event`]s, and [`crate::machine::Action`]s become web-sys
//! calls. Every closure is owned by the struct that registered it and is
//! unregistered when that struct drops; no `Closure::forget`.

pub(crate) mod page;
pub(crate) mod read;
pub(crate) mod socket;
pub(crate) mod tabs;
pub(crate) mod timers;
pub(crate) mod write;

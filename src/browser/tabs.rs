//! Cross-tab glue: the Web Lock, the `BroadcastChannel`, the beat timer and
//! the page lifecycle events (`pagehide`, `pageshow`, `freeze`, `resume`).
//!
//! Nothing here decides: [`crate::tabs::Shared`] does. Events become
//! [`TabEvent`]s for `sink`; [`TabAction`]s become calls here. Every closure
//! is owned by [`TabIo`] and unregistered when it drops.

use crate::browser::page::Listener;
use crate::tabs::{TabAction, TabEvent, BEAT_MS};
use gloo_timers::callback::Interval;
use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, Event, EventTarget, MessageEvent, PageTransitionEvent};

// Web Locks through a few lines of JS rather than web-sys's unstable
// `LockManager` bindings (they need `--cfg=web_sys_unstable_apis`). A
// request holds its lock until `abort()`; `cb(gen, true)` when granted,
// `cb(gen, false)` when it is lost to a `steal` or fails. An abandoned
// request never calls back.
#[wasm_bindgen(inline_js = r#"
export function supported() {
  return typeof BroadcastChannel === 'function' && typeof navigator === 'object' && !!navigator.locks && typeof navigator.locks.request === 'function';
}
export function requestLock(name, steal, gen, cb) {
  const ctl = new AbortController();
  let release;
  const held = new Promise((r) => { release = r; });
  navigator.locks.request(name, steal ? { steal: true } : { signal: ctl.signal }, () => {
    if (ctl.signal.aborted) return undefined;
    cb(gen, true);
    return held;
  }).catch(() => { if (!ctl.signal.aborted) cb(gen, false); });
  return () => { ctl.abort(); release(); };
}
"#)]
extern "C" {
    fn supported() -> bool;
    #[wasm_bindgen(js_name = requestLock)]
    fn request_lock(name: &str, steal: bool, gen: u32, cb: &JsValue) -> js_sys::Function;
}

/// Where tab events go.
pub(crate) type TabSink = fn(TabEvent);

/// The channel, the lock request and the listeners of one shared connection.
pub(crate) struct TabIo {
    name: String,
    sink: TabSink,
    channel: Option<BroadcastChannel>,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_lock: Closure<dyn FnMut(u32, bool)>,
    /// Abandons the current lock request / releases the held lock.
    lock: Option<js_sys::Function>,
    gen: u32,
    beat: Option<Interval>,
    listeners: Vec<Listener>,
}

thread_local! {
    static LOCK_GEN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl TabIo {
    /// Whether this browser has Web Locks and `BroadcastChannel`.
    pub(crate) fn supported() -> bool {
        supported()
    }

    /// Open the channel `name` and listen to the page lifecycle; `sink`
    /// gets every event.
    pub(crate) fn new(name: String, sink: TabSink) -> Option<TabIo> {
        let window = web_sys::window()?;
        let document = window.document()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(text) = e.data().as_string() {
                sink(TabEvent::Message(text));
            }
        });
        let on_lock = Closure::<dyn FnMut(u32, bool)>::new(move |gen: u32, granted: bool| {
            if LOCK_GEN.with(|g| g.get()) == gen {
                sink(if granted {
                    TabEvent::LockGranted
                } else {
                    TabEvent::LockLost
                });
            }
        });
        let mut io = TabIo {
            name,
            sink,
            channel: None,
            on_message,
            on_lock,
            lock: None,
            gen: 0,
            beat: None,
            listeners: Vec::new(),
        };
        io.open_channel();
        let mut add = |target: EventTarget, name: &'static str, f: Box<dyn FnMut(Event)>| {
            io.listeners.extend(Listener::new(target, name, f));
        };
        // `pagehide` (into the back/forward cache or away) and `freeze`
        // leave; `pageshow` from the cache and `resume` join again.
        add(
            window.clone().into(),
            "pagehide",
            Box::new(move |_| sink(TabEvent::Hide)),
        );
        add(
            window.into(),
            "pageshow",
            Box::new(move |e: Event| {
                if e.dyn_ref::<PageTransitionEvent>()
                    .is_some_and(|e| e.persisted())
                {
                    sink(TabEvent::Show)
                }
            }),
        );
        add(
            document.clone().into(),
            "freeze",
            Box::new(move |_| sink(TabEvent::Hide)),
        );
        add(
            document.into(),
            "resume",
            Box::new(move |_| sink(TabEvent::Show)),
        );
        Some(io)
    }

    fn open_channel(&mut self) {
        if self.channel.is_none() {
            if let Ok(channel) = BroadcastChannel::new(&self.name) {
                channel.set_onmessage(Some(self.on_message.as_ref().unchecked_ref()));
                self.channel = Some(channel);
            }
        }
    }

    fn close_channel(&mut self) {
        if let Some(channel) = self.channel.take() {
            channel.set_onmessage(None);
            channel.close();
        }
    }

    fn abandon_lock(&mut self) {
        // A new generation: callbacks of the old request are ignored.
        self.gen = self.gen.wrapping_add(1);
        LOCK_GEN.with(|g| g.set(self.gen));
        if let Some(release) = self.lock.take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }

    /// Perform one action of [`crate::tabs::Shared`] (lock, channel, timer).
    pub(crate) fn perform(&mut self, action: TabAction) {
        match action {
            TabAction::RequestLock { steal } => {
                self.abandon_lock();
                self.lock = Some(request_lock(
                    &self.name,
                    steal,
                    self.gen,
                    self.on_lock.as_ref(),
                ));
            }
            TabAction::ReleaseLock => self.abandon_lock(),
            TabAction::Post(text) => {
                if let Some(channel) = &self.channel {
                    // Fails only on a closed channel, which is never kept.
                    let _ = channel.post_message(&JsValue::from_str(&text));
                }
            }
            TabAction::BeatTimer(on) => {
                let sink = self.sink;
                self.beat = on.then(|| Interval::new(BEAT_MS as u32, move || sink(TabEvent::Beat)));
            }
            // The rest is handled inside `Shared`.
            _ => {}
        }
    }

    /// `pagehide`/`freeze` done: close the channel (an open one can keep
    /// the page out of the back/forward cache); `pageshow`/`resume`: reopen.
    pub(crate) fn set_hidden(&mut self, hidden: bool) {
        if hidden {
            self.close_channel();
        } else {
            self.open_channel();
        }
    }
}

impl Drop for TabIo {
    fn drop(&mut self) {
        self.abandon_lock();
        self.close_channel();
    }
}

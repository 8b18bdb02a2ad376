//! Page-wide listeners: `online`, `offline`, `visibilitychange`, `pageshow`.

use wasm_bindgen::prelude::*;
use web_sys::{Event, EventTarget, PageTransitionEvent};

/// What the page reports.
pub(crate) enum PageEvent {
    Online,
    Offline,
    /// Tab visible again, or page restored from the back/forward cache.
    Visible,
}

/// One event listener; dropping it removes it.
pub(crate) struct Listener {
    target: EventTarget,
    name: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Listen to `name` on `target` with `f`; `None` when the browser refuses.
    pub(crate) fn new(
        target: EventTarget,
        name: &'static str,
        f: Box<dyn FnMut(Event)>,
    ) -> Option<Listener> {
        let closure = Closure::wrap(f);
        target
            .add_event_listener_with_callback(name, closure.as_ref().unchecked_ref())
            .ok()?;
        Some(Listener {
            target,
            name,
            closure,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.name, self.closure.as_ref().unchecked_ref());
    }
}

/// The registered listeners; dropping this removes them.
pub(crate) struct PageListeners {
    _listeners: Vec<Listener>,
}

impl PageListeners {
    /// Register the listeners on `window` and `document`, reporting to `sink`.
    pub(crate) fn install(sink: fn(PageEvent)) -> Option<PageListeners> {
        let window = web_sys::window()?;
        let document = window.document()?;
        let mut listeners = Vec::new();
        let mut add = |target: EventTarget, name: &'static str, f: Box<dyn FnMut(Event)>| {
            listeners.extend(Listener::new(target, name, f));
        };
        add(
            window.clone().into(),
            "online",
            Box::new(move |_| sink(PageEvent::Online)),
        );
        add(
            window.clone().into(),
            "offline",
            Box::new(move |_| sink(PageEvent::Offline)),
        );
        let doc = document.clone();
        add(
            document.into(),
            "visibilitychange",
            Box::new(move |_| {
                if doc.visibility_state() == web_sys::VisibilityState::Visible {
                    sink(PageEvent::Visible)
                }
            }),
        );
        add(
            window.into(),
            "pageshow",
            Box::new(move |e: Event| {
                let restored = e
                    .dyn_ref::<PageTransitionEvent>()
                    .is_some_and(|e| e.persisted());
                if restored {
                    sink(PageEvent::Visible)
                }
            }),
        );
        Some(PageListeners {
            _listeners: listeners,
        })
    }

    /// Whether the browser says it is online (`navigator.onLine`); true when unknown.
    pub(crate) fn browser_online() -> bool {
        web_sys::window().is_none_or(|w| w.navigator().on_line())
    }
}

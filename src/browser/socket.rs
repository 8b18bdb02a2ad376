//! The page's WebSocket and the closures it calls.

use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, WebSocket};

// One crossing per frame: reading `MessageEvent.data` and `Date.now()` through
// imports and copying the string as a second step cost more than the frame's
// Rust work when most frames are filtered out. The JS string stays here, so
// only a delivered frame is handed back (to `JSON.parse`).
#[wasm_bindgen(inline_js = "let current;
export function listen(ws, f) {
  ws.onmessage = (e) => {
    const d = e.data;
    current = typeof d === 'string' ? d : undefined;
    try { f(current, Date.now()); } finally { current = undefined; }
  };
}
export function parse_current() { return JSON.parse(current); }")]
extern "C" {
    fn listen(ws: &WebSocket, f: &Closure<dyn FnMut(Option<String>, f64)>);
    /// `JSON.parse` of the text frame being handled, without copying it
    /// through wasm memory; an error outside a text frame's handling.
    #[wasm_bindgen(catch)]
    pub(crate) fn parse_current() -> Result<JsValue, JsValue>;
}

/// What a socket reports, already stripped of web-sys types.
pub(crate) enum SocketEvent {
    Opened,
    /// The text, and `Date.now()` when it arrived (ms since the epoch);
    /// [`parse_current`] parses it while this event is handled.
    Text(String, f64),
    Binary,
    Closed {
        code: u16,
        reason: String,
    },
}

/// One WebSocket with its handlers; dropping it unregisters them and closes
/// the socket if still open, so a replaced socket can neither leak nor talk.
pub(crate) struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(Option<String>, f64)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Open a socket to `url`; `sink` receives its events tagged with `generation`.
    pub(crate) fn open(
        url: &str,
        generation: u32,
        sink: fn(u32, SocketEvent),
    ) -> Result<Socket, JsValue> {
        let ws = WebSocket::new(url)?;
        // Binary frames are not part of the protocol; arraybuffer avoids Blob reads.
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let on_open =
            Closure::<dyn FnMut(Event)>::new(move |_: Event| sink(generation, SocketEvent::Opened));
        let on_message =
            Closure::<dyn FnMut(Option<String>, f64)>::new(move |text: Option<String>, now| {
                let event = match text {
                    Some(text) => SocketEvent::Text(text, now),
                    None => SocketEvent::Binary,
                };
                sink(generation, event)
            });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            sink(
                generation,
                SocketEvent::Closed {
                    code: e.code(),
                    reason: e.reason(),
                },
            )
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        listen(&ws, &on_message);
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Send a text frame.
    pub(crate) fn send(&self, text: &str) -> Result<(), JsValue> {
        self.ws.send_with_str(text)
    }

    /// Whether the socket is in the OPEN state.
    pub(crate) fn is_open(&self) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
    }

    /// Close with `code` and `reason`; the handlers go when `self` drops.
    pub(crate) fn close(self, code: u16, reason: &str) {
        // Errors only for codes outside 1000/3000–4999, which the machine never uses.
        let _ = self.ws.close_with_code_and_reason(code, reason);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if matches!(
            self.ws.ready_state(),
            WebSocket::CONNECTING | WebSocket::OPEN
        ) {
            let _ = self.ws.close();
        }
    }
}

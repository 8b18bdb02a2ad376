//! The page's WebSocket and the closures it calls.

use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// What a socket reports, already stripped of web-sys types.
pub(crate) enum SocketEvent {
    Opened,
    /// The text, and the same text as the JS string the browser produced.
    Text(String, JsValue),
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
    _on_message: Closure<dyn FnMut(MessageEvent)>,
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
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            let event = match data.as_string() {
                Some(text) => SocketEvent::Text(text, data),
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
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
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

//! The page's WebSocket and the closures it calls.

use std::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, WebSocket};

// Every frame crosses into wasm once: the listener copies the text as UTF-8
// straight into a reused buffer in wasm memory and calls Rust with its
// length. Through web-sys it took three crossings (the
// `data` getter, then wasm-bindgen's string copy, which runs a JS loop over
// the characters and calls back into wasm to allocate). The JS string is
// kept for the duration of the call, so delivery can `JSON.parse` it without
// copying the text back out.
#[wasm_bindgen(inline_js = r#"
const encoder = new TextEncoder();
let current;
// One view for every socket: a new buffer from `reserve` replaces it for all.
let view = new Uint8Array(0);
export function listen(ws, generation, memory, wasm) {
  ws.onmessage = (e) => {
    const text = e.data;
    if (typeof text !== 'string') return wasm.__si_frame(generation, -1, Date.now());
    // UTF-8 needs at most 3 bytes per UTF-16 unit; a grown memory detaches the view.
    const need = text.length * 3;
    if (view.byteLength < need) {
      const at = wasm.__si_reserve(need); // may grow memory: read `memory.buffer` after it
      view = new Uint8Array(memory.buffer, at, need);
    }
    // ASCII (every frame the server writes, in practice) by a JIT-compiled
    // loop, a little cheaper than `encodeInto` (0.28 vs 0.34 µs per frame,
    // bench/dispatch/copy.mjs), which takes any other text.
    const n = text.length;
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) break;
      view[i] = c;
    }
    const written = i === n ? n : i + encoder.encodeInto(text.slice(i), view.subarray(i)).written;
    current = text;
    try {
      wasm.__si_frame(generation, written, Date.now());
    } finally {
      current = undefined;
    }
  };
}
export function currentText() { return current; }
"#)]
extern "C" {
    fn listen(ws: &WebSocket, generation: u32, memory: &JsValue, wasm: &JsValue);
    /// The JS string of the frame being handled, `undefined` outside that call.
    #[wasm_bindgen(js_name = currentText)]
    pub(crate) fn current_text() -> JsValue;
}

/// Where a socket's events go, with the socket's generation.
pub(crate) type Sink = fn(u32, SocketEvent);

thread_local! {
    /// Where the listener writes each frame's UTF-8 text; only grows.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Where frames go: the `sink` of the last [`Socket::open`].
    static SINK: Cell<Option<Sink>> = const { Cell::new(None) };
}

// The listener calls these two raw wasm exports directly, not through
// wasm-bindgen's closure wrappers (argument spreading, a try/finally and a
// reference count per call): they run for every frame. Not part of the JS API.

/// Make room for `need` bytes and return where they go. The address stays
/// valid until the next call: nothing else touches the buffer.
#[no_mangle]
pub extern "C" fn __si_reserve(need: u32) -> u32 {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let need = need as usize;
        if s.len() < need {
            *s = vec![0; need];
        }
        s.as_mut_ptr() as u32
    })
}

/// A frame of socket `generation` arrived at `at` (ms since the epoch): its
/// text is the first `len` bytes of the buffer, or `len` is -1 for a binary
/// frame.
#[no_mangle]
pub extern "C" fn __si_frame(generation: u32, len: i32, at: f64) {
    let event = match scratch_text(len) {
        Some(text) => SocketEvent::Text { text, at },
        None => SocketEvent::Binary,
    };
    if let Some(sink) = SINK.with(Cell::get) {
        sink(generation, event);
    }
}

/// The text of a frame the listener wrote: `len` bytes of the buffer.
fn scratch_text(len: i32) -> Option<String> {
    let len = usize::try_from(len).ok()?;
    SCRATCH.with(|s| {
        let s = s.borrow();
        // `encodeInto` always writes UTF-8 (a lone surrogate becomes U+FFFD, as
        // with web-sys strings), so this check never fails in practice.
        std::str::from_utf8(s.get(..len)?).ok().map(str::to_owned)
    })
}

/// What a socket reports, already stripped of web-sys types.
pub(crate) enum SocketEvent {
    Opened,
    /// A text frame received at `at` (ms since the epoch); [`current_text`]
    /// has it as a JS string meanwhile.
    Text {
        text: String,
        at: f64,
    },
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
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Open a socket to `url`; `sink` receives its events tagged with `generation`.
    pub(crate) fn open(url: &str, generation: u32, sink: Sink) -> Result<Socket, JsValue> {
        let ws = WebSocket::new(url)?;
        // Binary frames are not part of the protocol; arraybuffer avoids Blob reads.
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let on_open =
            Closure::<dyn FnMut(Event)>::new(move |_: Event| sink(generation, SocketEvent::Opened));
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
        SINK.with(|s| s.set(Some(sink)));
        listen(
            &ws,
            generation,
            &wasm_bindgen::memory(),
            &wasm_bindgen::exports(),
        );
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
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

//! The page's WebSocket and the closures it calls.

use std::cell::{Cell, RefCell};

use crate::frame::Kind;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, WebSocket};

// Every frame crosses into wasm once. An update the server wrote (`type`,
// `seq`, then the routing key first: `frame::prefix` in client-core) is read
// here, in JS: its kind, `seq` and the id of its key among the keys the
// filters name (`setKeys`) go to `__si_update` as numbers, so the text is
// never copied into wasm (copying costs about what `JSON.parse` of the whole
// frame does: bench/dispatch/copy.mjs). Any other frame, or one that does
// not begin exactly so, is copied as UTF-8 into a reused buffer in wasm
// memory for `__si_frame`, which reads it whole. The JS string is kept for
// the call, so delivery can `JSON.parse` it without copying the text back
// out; the last update routed here stays a JS string (`lastFastText`).
#[wasm_bindgen(inline_js = r#"
const encoder = new TextEncoder();
let current;
let last;
// Named keys by length: [key, id] pairs (a key is compared only with the
// few named keys of its length, never hashed).
let keys = new Map();
// Message subscribers by id (the same callbacks the wasm side holds).
const subs = new Map();
const fns = [];
let thrown;
// One buffer for every socket (`reserve` only grows it) and a view of it.
let base = 0;
let size = 0;
let view = new Uint8Array(0);
// Room for `n` UTF-16 units (UTF-8 needs at most 3 bytes each). Any wasm
// call may grow the memory, which detaches the view: made anew then.
function room(memory, wasm, n) {
  if (size < n * 3) {
    size = n * 3;
    base = wasm.__si_reserve(size);
  }
  if (view.byteLength !== size) view = new Uint8Array(memory.buffer, base, size);
}
const HEADS = ['{"type":"corridor_update","seq":', '{"type":"anchor_update","seq":', '{"type":"snapshot_update","seq":'];
const FIELDS = [',"corridor_key":"', ',"anchor_id":"', ''];
// An update in the server's order: `{"type":"<kind>","seq":<digits>` then,
// for a keyed kind, `,"<key field>":"<key>"` (no backslash in the key; the
// snapshot's `seq` followed by `,` or `}`). Hands kind (1-3), seq and key
// id to wasm; 0 (read the frame whole) for anything else.
function update(wasm, generation, text, at) {
  for (let k = 0; k < 3; k++) {
    const head = HEADS[k];
    if (!text.startsWith(head)) continue;
    const from = head.length;
    let i = from;
    let seq = 0;
    let c = text.charCodeAt(i);
    for (; c >= 48 && c <= 57; c = text.charCodeAt(++i)) seq = seq * 10 + c - 48;
    // JSON has no leading zeros; 15 digits are exact in a double.
    if (i === from || i - from > 15 || (i - from > 1 && text.charCodeAt(from) === 48)) return 0;
    let key = 0;
    const field = FIELDS[k];
    if (field === '') {
      if (c !== 44 && c !== 125) return 0;
    } else {
      if (!text.startsWith(field, i)) return 0;
      const start = i + field.length;
      const end = text.indexOf('"', start);
      if (end < 0) return 0;
      const escape = text.indexOf('\\', start);
      if (escape >= 0 && escape < end) return 0;
      const named = keys.get(end - start);
      if (named !== undefined) {
        for (let j = 0; j < named.length; j += 2) {
          if (text.startsWith(named[j], start)) {
            key = named[j + 1];
            break;
          }
        }
      }
    }
    // Raw exports return u32 as a signed i32: `>>> 0` reads it back.
    return wasm.__si_update(generation, k + 1, seq, key, at) >>> 0;
  }
  return 0;
}
// Call the `n` subscribers `__si_update` chose (just `one`, or from
// `__si_subscriber`) with the frame's object, as the wasm side's delivery
// does: functions looked up first, so one that unsubscribes another
// mid-delivery does not take this frame from it; a throw (or a text
// `JSON.parse` rejects) is reported through wasm.
function deliver(wasm, text, n, one) {
  let m;
  try {
    m = JSON.parse(text);
  } catch (err) {
    thrown = err;
    return wasm.__si_threw(0);
  }
  for (let j = 0; j < n; j++) fns[j] = subs.get(one >= 0 ? one : wasm.__si_subscriber(j) >>> 0);
  for (let j = 0; j < n; j++) {
    const f = fns[j];
    fns[j] = undefined;
    if (f === undefined) continue;
    try {
      f(m);
    } catch (err) {
      thrown = err;
      wasm.__si_threw(1);
    }
  }
}
export function listen(ws, generation, memory, wasm) {
  ws.onmessage = (e) => {
    const text = e.data;
    const at = Date.now();
    if (typeof text !== 'string') return wasm.__si_frame(generation, -1, at);
    current = text;
    try {
      const routed = update(wasm, generation, text, at);
      if (routed) {
        if (routed >= 2) last = text;
        if (routed >= 4) deliver(wasm, text, 1, routed - 4);
        else if (routed === 3) deliver(wasm, text, wasm.__si_subscriber(-1), -1);
        return;
      }
      // ASCII (every frame the server writes, in practice) by a
      // JIT-compiled loop, a little cheaper than `encodeInto`, which takes
      // any other text.
      const n = text.length;
      room(memory, wasm, n);
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) break;
        view[i] = c;
      }
      const written = i === n ? n : i + encoder.encodeInto(text.slice(i), view.subarray(i)).written;
      wasm.__si_frame(generation, written, at);
    } finally {
      current = undefined;
    }
  };
}
export function currentText() { return current; }
export function lastFastText() { return last; }
export function setKeys(list) {
  keys = new Map();
  list.forEach((k, i) => {
    const same = keys.get(k.length);
    if (same) same.push(k, i + 1);
    else keys.set(k.length, [k, i + 1]);
  });
}
export function setSubscriber(id, f) {
  if (id === 0) subs.clear();
  else if (f === undefined) subs.delete(id);
  else subs.set(id, f);
}
export function takeThrown() { const e = thrown; thrown = undefined; return e; }
"#)]
extern "C" {
    fn listen(ws: &WebSocket, generation: u32, memory: &JsValue, wasm: &JsValue);
    /// The JS string of the frame being handled, `undefined` outside that call.
    #[wasm_bindgen(js_name = currentText)]
    pub(crate) fn current_text() -> JsValue;
    /// The JS string of the last update routed in JS that became the last
    /// message (see [`PrefixSink`]).
    #[wasm_bindgen(js_name = lastFastText)]
    pub(crate) fn last_fast_text() -> JsValue;
    /// The keys the filters name, in the order of their ids (id = index + 1:
    /// `Machine::named_keys`); the listener looks keys up in them.
    #[wasm_bindgen(js_name = setKeys)]
    pub(crate) fn set_keys(keys: &js_sys::Array);
    /// Message subscriber `id` (also held by the wasm side), which the
    /// listener calls for updates it routes; `undefined`: it is gone; id 0:
    /// every subscriber is gone. (One import, not three: each costs glue.)
    #[wasm_bindgen(js_name = setSubscriber)]
    pub(crate) fn set_subscriber(id: u32, callback: &JsValue);
    /// What the listener caught last (see [`__si_threw`]).
    #[wasm_bindgen(js_name = takeThrown)]
    fn take_thrown() -> JsValue;
}

/// Where a socket's events go, with the socket's generation.
pub(crate) type Sink = fn(u32, SocketEvent);

/// `route(generation, kind, seq, key id, at, subscribers)` of [`PrefixSink`].
pub(crate) type RouteUpdate = fn(u32, Kind, u64, u32, f64, &mut Vec<u32>) -> Option<bool>;

/// Where an update read in JS goes: `route(generation, kind, seq, key id,
/// at)` decides (`None`: read the whole frame); the listener then calls the
/// chosen subscribers itself, and `threw(parse, error)` reports a text
/// `JSON.parse` rejected (`parse`) or a subscriber that threw.
#[derive(Clone, Copy)]
pub(crate) struct PrefixSink {
    pub(crate) route: RouteUpdate,
    pub(crate) threw: fn(bool, JsValue),
}

thread_local! {
    /// Where the listener writes each frame's UTF-8 text; only grows.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Where frames go: the `sink` of the last [`Socket::open`].
    static SINK: Cell<Option<Sink>> = const { Cell::new(None) };
    /// Where prefix-routed updates go: set with `SINK`.
    static PREFIX: Cell<Option<PrefixSink>> = const { Cell::new(None) };
    /// The subscribers of the update being delivered by the listener.
    static ROUTED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

// The listener calls these raw wasm exports (`__si_*`) directly, not through
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

/// The listener read an update of socket `generation`: `kind` 1-3
/// (corridor, anchor, snapshot update), its `seq` (an integer below 10^15)
/// and its key's id (see `setKeys`). Returns 0 when the listener must copy
/// the whole frame for [`__si_frame`], 1 for a duplicate (dropped); from 2
/// on the update is the last message: 2 when nobody wants it, 4 + the id
/// of its one subscriber, or 3 when there are several ([`__si_subscriber`]).
#[no_mangle]
pub extern "C" fn __si_update(generation: u32, kind: u32, seq: f64, key: u32, at: f64) -> u32 {
    let kind = match kind {
        1 => Kind::CorridorUpdate,
        2 => Kind::AnchorUpdate,
        3 => Kind::SnapshotUpdate,
        _ => return 0,
    };
    let Some(sink) = PREFIX.with(Cell::get) else {
        return 0;
    };
    // Taken out for the call (its buffer reused), so no borrow is held
    // while the machine runs.
    let mut to = ROUTED.with(|r| std::mem::take(&mut *r.borrow_mut()));
    let routed = (sink.route)(generation, kind, seq as u64, key, at, &mut to);
    let code = match (routed, to.as_slice()) {
        (None, _) => 0,
        (Some(false), _) => 1,
        (Some(true), []) => 2,
        (Some(true), [one]) => one.checked_add(4).unwrap_or(3),
        (Some(true), _) => 3,
    };
    ROUTED.with(|r| *r.borrow_mut() = to);
    code
}

/// Subscriber `i` of the update [`__si_update`] routed last; `i` = -1: how
/// many there are.
#[no_mangle]
pub extern "C" fn __si_subscriber(i: i32) -> u32 {
    ROUTED.with(|r| {
        let r = r.borrow();
        match usize::try_from(i) {
            Ok(i) => r.get(i).copied().unwrap_or_default(),
            Err(_) => r.len() as u32,
        }
    })
}

/// The listener caught something while delivering: `JSON.parse` rejected
/// the text (`what` 0) or a subscriber threw (1); reported through
/// [`PrefixSink::threw`].
#[no_mangle]
pub extern "C" fn __si_threw(what: u32) {
    if let Some(sink) = PREFIX.with(Cell::get) {
        (sink.threw)(what == 0, take_thrown());
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
    pub(crate) fn open(
        url: &str,
        generation: u32,
        sink: Sink,
        prefix: PrefixSink,
    ) -> Result<Socket, JsValue> {
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
        PREFIX.with(|s| s.set(Some(prefix)));
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

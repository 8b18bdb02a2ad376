//! The JS API (`pkg/stellar_insights_ws.d.ts`): one client per page.
//!
//! The [`Machine`] decides; this module feeds it browser events and performs
//! its actions. State lives in one page-global `Client`: its parts sit in
//! separate `RefCell`s and no borrow is held while JS code runs, so callbacks
//! may call back into the API (subscribe, disconnect, ...) without panics.

use crate::browser::page::{PageEvent, PageListeners};
use crate::browser::socket::{
    current_text, last_fast_text, set_keys, set_subscriber, PrefixSink, Socket, SocketEvent,
};
use crate::browser::tabs::TabIo;
use crate::browser::timers::Timers;
use crate::browser::{read, write};
use crate::filter::SubscriberId;
use crate::frame::Kind;
use crate::machine::{Action, Delivery, Event, Machine, Timer};
use crate::options;
use crate::status::{ClientError, ConnectionState, ErrorCode, Status};
use crate::tabs::{channel_name, Out, Shared, SharedEvent, TabEvent};
use crate::text::cat;
use crate::url::PageLocation;
use gloo_timers::callback::Timeout;
use js_sys::{Function, JSON};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_ALIASES: &str = r#"
/** A server frame as subscribers receive it: every ServerMessage but the never-delivered "unknown". */
export type WsMessage = Exclude<ServerMessage, { type: "unknown" }>;
/** The `type` tag of a server frame. */
export type MessageType = WsMessage["type"];
/**
 * The keyed state of a client configured with `state: true`: the latest
 * record per subscribed corridor (by `corridor_key`) and anchor (by
 * `anchor_id`), and the latest snapshot. Each record is a complete update
 * whose `seq` is the key's version.
 */
export interface LiveState {
  corridors: Record<string, { type: "corridor_update" } & CorridorUpdate>;
  anchors: Record<string, { type: "anchor_update" } & AnchorUpdate>;
  snapshot: ({ type: "snapshot_update" } & SnapshotUpdate) | null;
  /** A complete state answer has arrived: empty maps then mean there is nothing. */
  synced: boolean;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse` of a JS string, without copying it through wasm memory.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse_js(text: &JsValue) -> Result<JsValue, JsValue>;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Channel {
    Message,
    Status,
    Error,
    Resync,
    State,
}

struct Io {
    socket: Option<Socket>,
    /// Reports a socket that could not even be constructed.
    failed_open: Option<Timeout>,
    generation: u32,
    timers: Timers,
    _page: Option<PageListeners>,
}

#[derive(Default)]
struct Callbacks {
    next_id: u32,
    entries: Vec<(u32, Channel, Function)>,
}

struct Client {
    machine: RefCell<Machine>,
    io: RefCell<Io>,
    callbacks: RefCell<Callbacks>,
    status_cache: RefCell<Option<(Status, JsValue)>>,
    message_cache: RefCell<Option<(Rc<String>, JsValue)>>,
    /// `lastMessage()` of an update routed from its prefix: its JS string
    /// and the object made from it.
    fast_cache: RefCell<Option<(JsValue, JsValue)>>,
    /// Sharing the socket across tabs (`shareAcrossTabs`), when on.
    shared: RefCell<Option<Shared>>,
    tab_io: RefCell<Option<(String, TabIo)>>,
    /// `state()`'s object and the store revision it shows.
    state_cache: RefCell<Option<(u64, JsValue)>>,
}

thread_local! {
    static CLIENT: Client = Client::new();
}

fn page_location() -> Option<PageLocation> {
    let location = web_sys::window()?.location();
    Some(PageLocation {
        protocol: location.protocol().ok()?,
        host: location.host().ok()?,
    })
}

fn default_config() -> crate::machine::Config {
    options::to_config(options::ClientOptions::default(), page_location().as_ref())
        .unwrap_or_default()
}

impl Client {
    fn new() -> Client {
        let mut machine = Machine::new(default_config(), Box::new(js_sys::Math::random));
        if !PageListeners::browser_online() {
            // Idle machine: this only records the state, no action results.
            machine.handle(js_sys::Date::now(), Event::Offline);
        }
        Client {
            machine: RefCell::new(machine),
            io: RefCell::new(Io {
                socket: None,
                failed_open: None,
                generation: 0,
                timers: Timers::default(),
                // Page-lifetime listeners, owned by the page-global client.
                _page: PageListeners::install(on_page),
            }),
            callbacks: RefCell::new(Callbacks::default()),
            status_cache: RefCell::new(None),
            message_cache: RefCell::new(None),
            fast_cache: RefCell::new(None),
            shared: RefCell::new(None),
            tab_io: RefCell::new(None),
            state_cache: RefCell::new(None),
        }
    }
}

fn dispatch(event: Event) {
    dispatch_at(event, js_sys::Date::now());
}

/// [`dispatch`] of an event that happened at `now` (ms since the epoch).
fn dispatch_at(event: Event, now: f64) {
    if matches!(event, Event::Acquire | Event::Connect) {
        set_up_sharing();
    }
    feed(SharedEvent::Machine(event), now);
}

/// An event for the machine, through the cross-tab layer when sharing.
fn feed(event: SharedEvent, now: f64) {
    let out = CLIENT.with(|c| {
        let mut machine = c.machine.borrow_mut();
        match (c.shared.borrow_mut().as_mut(), event) {
            (Some(shared), event) => shared.handle(&mut machine, now, event),
            (None, SharedEvent::Machine(e)) => Out {
                machine: machine.handle(now, e),
                tabs: Vec::new(),
            },
            (None, SharedEvent::SocketFrame(text)) => Out {
                machine: machine.handle(now, Event::Frame(text)),
                tabs: Vec::new(),
            },
            (None, SharedEvent::Tab(_)) => Out::default(),
        }
    });
    perform_out(out);
}

/// Machine actions produced outside `handle` (subscribe, unsubscribe,
/// reset), routed through the cross-tab layer when sharing; `topics`: the
/// subscriptions changed.
fn perform_local(actions: Vec<Action>, topics: bool) {
    if topics {
        sync_keys();
    }
    let now = js_sys::Date::now();
    let out = CLIENT.with(|c| {
        let mut machine = c.machine.borrow_mut();
        match c.shared.borrow_mut().as_mut() {
            Some(shared) => {
                let mut out = shared.route_actions(&mut machine, now, actions);
                if topics {
                    let more = shared.topics_changed(&mut machine, now);
                    out.machine.extend(more.machine);
                    out.tabs.extend(more.tabs);
                }
                out
            }
            None => Out {
                machine: actions,
                tabs: Vec::new(),
            },
        }
    });
    perform_out(out);
}

/// Lock, channel and timer actions first (a relayed frame is posted before
/// this tab's own callbacks run), then the machine's.
fn perform_out(out: Out) {
    tab_io(out.tabs, None);
    perform(out.machine);
}

/// Lock, channel and timer actions; then `hidden`: the channel closed
/// (after `pagehide`'s goodbye) or reopened (before `pageshow`'s hello).
fn tab_io(actions: Vec<crate::tabs::TabAction>, hidden: Option<bool>) {
    CLIENT.with(|c| {
        if let Some((_, io)) = c.tab_io.borrow_mut().as_mut() {
            for action in actions {
                io.perform(action);
            }
            if let Some(hidden) = hidden {
                io.set_hidden(hidden);
            }
        }
    });
}

/// Stop sharing: the channel, the lock request and the listeners go.
fn stop_sharing() {
    let old = CLIENT.with(|c| (c.shared.borrow_mut().take(), c.tab_io.borrow_mut().take()));
    drop(old);
    let actions = CLIENT.with(|c| c.machine.borrow_mut().set_role(None));
    perform(actions);
}

/// Before a connection starts: share when `shareAcrossTabs` (default true)
/// and the browser can, on a channel named after the URL and token; a
/// change of either takes effect here, never under an open socket.
fn set_up_sharing() {
    let (name, busy, current) = CLIENT.with(|c| {
        let machine = c.machine.borrow();
        let config = machine.config();
        let name = (config.share_across_tabs && TabIo::supported())
            .then(|| channel_name(&config.url, config.token.as_deref()));
        let busy = !matches!(
            machine.status().state,
            ConnectionState::Idle | ConnectionState::Closed | ConnectionState::GaveUp
        );
        let current = c
            .tab_io
            .borrow()
            .as_ref()
            .map(|(n, _)| n == name.as_deref().unwrap_or_default());
        (name, busy, current)
    });
    if busy || current.unwrap_or(name.is_none()) {
        return;
    }
    stop_sharing();
    let Some(name) = name else { return };
    if let Some(io) = TabIo::new(name.clone(), on_tab) {
        // Tab id: random, 53 bits (exact as a JS number).
        let id = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        CLIENT.with(|c| {
            *c.tab_io.borrow_mut() = Some((name, io));
            *c.shared.borrow_mut() = Some(Shared::new(id));
        });
    }
}

fn on_tab(event: TabEvent) {
    let hide = match event {
        TabEvent::Hide => Some(true),
        TabEvent::Show => Some(false),
        _ => None,
    };
    if hide == Some(false) {
        tab_io(Vec::new(), hide);
    }
    feed(SharedEvent::Tab(event), js_sys::Date::now());
    if hide == Some(true) {
        // After the goodbye went out.
        tab_io(Vec::new(), hide);
    }
}

/// Socket and timer actions first, then the JS callbacks, so a callback that
/// calls back into the API (e.g. `disconnect()` from `onError`) never sees,
/// nor is followed by, half of a transition.
fn perform(actions: Vec<Action>) {
    let mut notices = Vec::new();
    for action in actions {
        match action {
            Action::Open(url) => open(&url),
            Action::Send(text) => {
                let sent = CLIENT.with(|c| c.io.borrow().socket.as_ref().map(|s| s.send(&text)));
                if let Some(Err(e)) = sent {
                    notices.push(Action::Error(ClientError::new(
                        ErrorCode::SocketError,
                        cat(&["send failed: ", &describe(&e)]),
                    )));
                }
            }
            Action::Close { code, reason } => {
                let socket = CLIENT.with(|c| {
                    let mut io = c.io.borrow_mut();
                    io.generation = io.generation.wrapping_add(1);
                    io.failed_open = None;
                    io.socket.take()
                });
                if let Some(socket) = socket {
                    socket.close(code, &reason);
                }
            }
            Action::SetTimer(timer, ms) => {
                CLIENT.with(|c| c.io.borrow_mut().timers.set(timer, ms, on_timer))
            }
            Action::CancelTimer(timer) => CLIENT.with(|c| c.io.borrow_mut().timers.cancel(timer)),
            notice => notices.push(notice),
        }
    }
    for notice in notices {
        match notice {
            // A callback that re-entered the API may have moved on already;
            // its own, newer status has been emitted then: skip the stale one.
            Action::Status(status) if CLIENT.with(|c| c.machine.borrow().status()) == status => {
                emit(Channel::Status, &write::status(&status));
            }
            Action::Deliver(delivery) => deliver(delivery),
            Action::Error(error) => report(error),
            Action::Resync(event) => emit(Channel::Resync, &write::resync(&event)),
            Action::StateChanged => emit(Channel::State, &JsValue::UNDEFINED),
            _ => {}
        }
    }
}

fn open(url: &str) {
    let generation = CLIENT.with(|c| {
        let mut io = c.io.borrow_mut();
        io.generation = io.generation.wrapping_add(1);
        io.generation
    });
    match Socket::open(url, generation, on_socket, PREFIX_SINK) {
        Ok(socket) => {
            let old = CLIENT.with(|c| c.io.borrow_mut().socket.replace(socket));
            drop(old);
        }
        // The exception text may quote the URL and its token: not reported.
        // Reported as a failed attempt like any other, from a fresh task so
        // the rest of this transition's actions run first.
        Err(_) => {
            let failed = Timeout::new(0, move || {
                on_socket(
                    generation,
                    SocketEvent::Closed {
                        code: 1006,
                        reason: String::new(),
                    },
                )
            });
            let old = CLIENT.with(|c| c.io.borrow_mut().failed_open.replace(failed));
            drop(old);
        }
    }
}

fn on_socket(generation: u32, event: SocketEvent) {
    if CLIENT.with(|c| c.io.borrow().generation) != generation {
        return;
    }
    match event {
        SocketEvent::Opened => dispatch(Event::Opened),
        SocketEvent::Text { text, at } => feed(SharedEvent::SocketFrame(text), at),
        SocketEvent::Binary => report(ClientError::new(
            ErrorCode::MalformedFrame,
            "ignored a binary frame: the protocol uses text frames only",
        )),
        SocketEvent::Closed { code, reason } => {
            let dead = CLIENT.with(|c| c.io.borrow_mut().socket.take());
            dispatch(Event::Closed { code, reason });
            drop(dead);
        }
    }
}

fn on_timer(timer: Timer) {
    let fired = CLIENT.with(|c| c.io.borrow_mut().timers.take(timer));
    dispatch(Event::Timer(timer));
    drop(fired);
}

fn on_page(event: PageEvent) {
    let event = match event {
        PageEvent::Online => Event::Online,
        PageEvent::Offline => Event::Offline,
        // A follower's socket is the relay: alive while attached.
        PageEvent::Visible => Event::Visible {
            socket_open: CLIENT.with(|c| {
                c.io.borrow().socket.as_ref().is_some_and(Socket::is_open)
                    || c.shared.borrow().as_ref().is_some_and(Shared::is_follower)
            }),
        },
    };
    dispatch(event);
}

fn callbacks_of(channel: Channel, only: Option<&[u32]>) -> Vec<Function> {
    CLIENT.with(|c| {
        let mut out = Vec::new();
        for (id, ch, f) in &c.callbacks.borrow().entries {
            if *ch == channel && only.is_none_or(|ids| ids.contains(id)) {
                out.push(f.clone());
            }
        }
        out
    })
}

/// The frame becomes a JS object once, parsed by the engine's `JSON.parse`
/// (measured 3x faster than building it from Rust; see the crate docs), and
/// every subscriber gets that same object.
fn deliver(delivery: Delivery) {
    let Delivery {
        text, to, rebuilt, ..
    } = delivery;
    let js_text = current_text();
    let parsed = if js_text.is_string() && !rebuilt {
        json_parse_js(&js_text)
    } else {
        JSON::parse(&text)
    };
    call_subscribers(parsed, &to);
}

/// The prefix path ([`PrefixSink`]), first half: an update of socket
/// `generation` read by the listener in JS (kind, `seq`, key id); `None`
/// when the whole frame must be read (another socket; sharing or state mode
/// need the text; the kind not checked in full on this connection yet).
fn route_update(
    generation: u32,
    kind: Kind,
    seq: u64,
    key: u32,
    at: f64,
    to: &mut Vec<SubscriberId>,
) -> Option<bool> {
    CLIENT.with(|c| {
        if c.io.borrow().generation != generation {
            return None;
        }
        let mut machine = c.machine.borrow_mut();
        let mut route = |m: &mut Machine| m.named_update(at, kind, seq, key, to);
        match c.shared.borrow_mut().as_mut() {
            Some(shared) => shared.prefix_frame(&mut machine, route),
            None => route(&mut machine),
        }
    })
}

/// Give the listener the keys the filters name (after every change of the
/// subscribers): it hands wasm their ids instead of the text.
fn sync_keys() {
    let keys = CLIENT.with(|c| {
        let machine = c.machine.borrow();
        let keys = js_sys::Array::new();
        for k in machine.named_keys() {
            keys.push(&JsValue::from_str(k));
        }
        keys
    });
    set_keys(&keys);
}

/// A delivery caught something: a text `JSON.parse` rejected (`parse`) or
/// a subscriber that threw (here or in the listener's own delivery).
fn delivery_failed(parse: bool, error: JsValue) {
    report(if parse {
        ClientError::new(
            ErrorCode::MalformedFrame,
            cat(&["frame rejected by JSON.parse: ", &describe(&error)]),
        )
    } else {
        ClientError::new(
            ErrorCode::CallbackError,
            cat(&["subscriber callback threw: ", &describe(&error)]),
        )
    });
}

/// What [`Socket::open`] routes updates through.
const PREFIX_SINK: PrefixSink = PrefixSink {
    route: route_update,
    threw: delivery_failed,
};

/// Give every subscriber in `to` the frame's object, or report why
/// `JSON.parse` rejected it.
fn call_subscribers(parsed: Result<JsValue, JsValue>, to: &[SubscriberId]) {
    let value = match parsed {
        Ok(value) => value,
        Err(e) => return delivery_failed(true, e),
    };
    for callback in callbacks_of(Channel::Message, Some(to)) {
        if let Err(e) = callback.call1(&JsValue::NULL, &value) {
            delivery_failed(false, e);
        }
    }
}

fn emit(channel: Channel, value: &JsValue) {
    for callback in callbacks_of(channel, None) {
        if let Err(e) = callback.call1(&JsValue::NULL, value) {
            report(ClientError::new(
                ErrorCode::CallbackError,
                cat(&["status/resync callback threw: ", &describe(&e)]),
            ));
        }
    }
}

fn report(error: ClientError) {
    let callbacks = callbacks_of(Channel::Error, None);
    if callbacks.is_empty() {
        // Never silent: without an onError subscriber the console gets it.
        web_sys::console::warn_1(&cat(&["stellar-insights-ws: ", &error.message]).into());
        return;
    }
    let value = write::error(&error);
    for callback in callbacks {
        if let Err(e) = callback.call1(&JsValue::NULL, &value) {
            // Reporting through the channel that just failed could loop.
            web_sys::console::error_2(&"stellar-insights-ws: onError callback threw".into(), &e);
        }
    }
}

fn describe(e: &JsValue) -> String {
    if let Some(error) = e.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    e.as_string()
        .unwrap_or_else(|| "a non-Error value was thrown".into())
}

fn invalid(message: String) -> JsError {
    let error = ClientError::new(ErrorCode::InvalidOptions, message);
    report(error.clone());
    JsError::new(&error.message)
}

fn add_callback(channel: Channel, callback: Function) -> u32 {
    CLIENT.with(|c| {
        let mut callbacks = c.callbacks.borrow_mut();
        // Never 0: `setSubscriber(0, …)` clears every subscriber.
        callbacks.next_id = callbacks.next_id.wrapping_add(1).max(1);
        let id = callbacks.next_id;
        callbacks.entries.push((id, channel, callback));
        id
    })
}

/// Handle of a subscription or callback registration. `unsubscribe()` ends
/// it; `free()` (wasm-bindgen's) only releases the handle and does NOT
/// unsubscribe, so a handle collected by the garbage collector never cancels
/// a subscription behind the app's back.
#[wasm_bindgen]
pub struct Subscription {
    id: u32,
}

#[wasm_bindgen]
impl Subscription {
    /// Stop calling this callback; for message subscriptions, also drop its
    /// server topics. Calling it twice is harmless.
    pub fn unsubscribe(&self) {
        let id = self.id;
        CLIENT.with(|c| {
            c.callbacks
                .borrow_mut()
                .entries
                .retain(|(i, _, _)| *i != id)
        });
        set_subscriber(id, &JsValue::UNDEFINED);
        let actions = CLIENT.with(|c| c.machine.borrow_mut().unsubscribe(id));
        perform_local(actions, true);
    }
}

/// Set the options; they take effect on the next connection attempt.
/// Invalid options throw an `Error` (and are reported as `invalid_options`)
/// and leave the previous options in force.
#[wasm_bindgen]
pub fn configure(
    #[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue,
) -> Result<(), JsError> {
    let options = read::options(&options).map_err(invalid)?;
    let config =
        options::to_config(options, page_location().as_ref()).map_err(|e| invalid(e.message))?;
    // State mode, once on, stays on for the page (a state connection is one
    // for its life); turned on while connected it asks for the state at once.
    let mut config = config;
    let actions = CLIENT.with(|c| {
        let mut machine = c.machine.borrow_mut();
        let on = config.state;
        config.state = machine.config().state;
        machine.configure(config);
        if on {
            machine.enable_state()
        } else {
            Vec::new()
        }
    });
    perform(actions);
    Ok(())
}

/// A consumer starts using the connection (reference count + 1); the first
/// one opens the socket when `autoConnect` (default true).
#[wasm_bindgen]
pub fn acquire() {
    dispatch(Event::Acquire);
}

/// A consumer stops (reference count − 1); after the last one the socket
/// closes (state `idle`), unless a consumer acquires again in the same task.
#[wasm_bindgen]
pub fn release() {
    dispatch(Event::Release);
}

/// Open the socket now; also leaves `gave_up` and `closed`.
#[wasm_bindgen]
pub fn connect() {
    dispatch(Event::Connect);
}

/// Close the socket; no reconnect until `connect()` (state `closed`).
#[wasm_bindgen]
pub fn disconnect() {
    dispatch(Event::Disconnect);
}

/// Send `{"type":"ping","timestamp":Date.now()}` (queued while not open).
#[wasm_bindgen]
pub fn ping() {
    dispatch(Event::Ping);
}

/// Send a message (object → JSON, string as is). While not open it waits in
/// a queue of `sendQueueLimit` (default 100) messages; overflow is reported
/// as `queue_overflow`. Throws when the object cannot be serialised.
#[wasm_bindgen]
pub fn send(
    #[wasm_bindgen(unchecked_param_type = "ClientMessage | string")] message: JsValue,
) -> Result<(), JsError> {
    if message.is_undefined() || message.is_null() {
        return Err(JsError::new(
            "send() needs a ClientMessage object or a string",
        ));
    }
    let text = match message.as_string() {
        Some(text) => text,
        None => JSON::stringify(&message)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| JsError::new("message cannot be serialised to JSON"))?,
    };
    dispatch(Event::Send(text));
    Ok(())
}

/// Call `callback` with every server frame matching `filter` (the same
/// object for all subscribers: treat it as read-only). Subscriptions survive
/// reconnects. Throws on a filter naming an unknown message type.
#[wasm_bindgen]
pub fn subscribe(
    #[wasm_bindgen(unchecked_param_type = "Filter")] filter: JsValue,
    #[wasm_bindgen(unchecked_param_type = "(msg: WsMessage) => void")] callback: Function,
) -> Result<Subscription, JsError> {
    let filter = read::filter(&filter).map_err(|e| invalid(cat(&["invalid filter: ", &e])))?;
    let id = add_callback(Channel::Message, callback.clone());
    set_subscriber(id, &callback);
    let result = CLIENT.with(|c| c.machine.borrow_mut().subscribe(id, &filter));
    match result {
        Ok(actions) => {
            perform_local(actions, true);
            Ok(Subscription { id })
        }
        Err(e) => {
            Subscription { id }.unsubscribe();
            Err(invalid(e.message()))
        }
    }
}

/// Call `callback` on every connection state change.
#[wasm_bindgen(js_name = onStatus)]
pub fn on_status(
    #[wasm_bindgen(unchecked_param_type = "(status: ConnectionStatus) => void")] callback: Function,
) -> Subscription {
    Subscription {
        id: add_callback(Channel::Status, callback),
    }
}

/// Call `callback` with every error (malformed frames, callback exceptions,
/// socket failures, ...). Without any, errors go to `console.warn`.
#[wasm_bindgen(js_name = onError)]
pub fn on_error(
    #[wasm_bindgen(unchecked_param_type = "(error: WsError) => void")] callback: Function,
) -> Subscription {
    Subscription {
        id: add_callback(Channel::Error, callback),
    }
}

/// Call `callback` when the server cannot replay missed updates: reload through REST.
#[wasm_bindgen(js_name = onResync)]
pub fn on_resync(
    #[wasm_bindgen(unchecked_param_type = "(event: ResyncEvent) => void")] callback: Function,
) -> Subscription {
    Subscription {
        id: add_callback(Channel::Resync, callback),
    }
}

/// Call `callback` (no argument) after each event that changed `state()`
/// (state mode); read `state()` then, at most once per frame.
#[wasm_bindgen(js_name = onState)]
pub fn on_state(
    #[wasm_bindgen(unchecked_param_type = "() => void")] callback: Function,
) -> Subscription {
    Subscription {
        id: add_callback(Channel::State, callback),
    }
}

/// The keyed state (state mode; empty maps otherwise); the same object until
/// it changes (safe as a `useSyncExternalStore` snapshot). Treat it as read-only.
#[wasm_bindgen(unchecked_return_type = "LiveState")]
pub fn state() -> JsValue {
    CLIENT.with(|c| {
        let machine = c.machine.borrow();
        let revision = machine.store().revision();
        let mut cache = c.state_cache.borrow_mut();
        match &*cache {
            Some((cached, value)) if *cached == revision => value.clone(),
            _ => {
                let value = JSON::parse(&machine.state_json()).unwrap_or(JsValue::NULL);
                *cache = Some((revision, value.clone()));
                value
            }
        }
    })
}

/// Whether the socket is open.
#[wasm_bindgen(js_name = isConnected)]
pub fn is_connected() -> bool {
    CLIENT.with(|c| c.machine.borrow().is_connected())
}

/// The current status; the same object until something in it changes (safe
/// as a `useSyncExternalStore` snapshot).
#[wasm_bindgen(unchecked_return_type = "ConnectionStatus")]
pub fn status() -> JsValue {
    CLIENT.with(|c| {
        let now = c.machine.borrow().status();
        let mut cache = c.status_cache.borrow_mut();
        match &*cache {
            Some((cached, value)) if *cached == now => value.clone(),
            _ => {
                let value = write::status(&now);
                *cache = Some((now, value.clone()));
                value
            }
        }
    })
}

/// Id from the server's `connected` frame, while open.
#[wasm_bindgen(js_name = connectionId)]
pub fn connection_id() -> Option<String> {
    CLIENT.with(|c| c.machine.borrow().status().connection_id)
}

/// The last frame received other than ping/pong; the same object until a new one arrives.
#[wasm_bindgen(js_name = lastMessage, unchecked_return_type = "WsMessage | undefined")]
pub fn last_message() -> JsValue {
    CLIENT.with(|c| {
        if c.machine.borrow().last_message_elsewhere() {
            let text = last_fast_text();
            let mut cache = c.fast_cache.borrow_mut();
            return match &*cache {
                Some((cached, value)) if *cached == text => value.clone(),
                _ => {
                    let value = json_parse_js(&text).unwrap_or(JsValue::UNDEFINED);
                    *cache = Some((text, value.clone()));
                    value
                }
            };
        }
        let Some(text) = c.machine.borrow().last_message() else {
            return JsValue::UNDEFINED;
        };
        let mut cache = c.message_cache.borrow_mut();
        match &*cache {
            Some((cached, value)) if Rc::ptr_eq(cached, &text) => value.clone(),
            _ => {
                let value = JSON::parse(&text).unwrap_or(JsValue::UNDEFINED);
                *cache = Some((text, value.clone()));
                value
            }
        }
    })
}

/// `seq` of the last update delivered (a JS number; exact below 2^53).
#[wasm_bindgen(js_name = lastSeq)]
pub fn last_seq() -> Option<f64> {
    CLIENT.with(|c| c.machine.borrow().last_seq().map(|s| s as f64))
}

/// Back to the state right after `init()`: closes the socket and forgets
/// subscribers, callbacks, consumers, the send queue, the resume point and
/// the options, without calling any callback. For tests and for apps that
/// tear down their real-time layer.
#[wasm_bindgen]
pub fn reset() {
    // Callbacks go first: a reset notifies nobody (their owners may be gone).
    CLIENT.with(|c| {
        c.callbacks.borrow_mut().entries.clear();
        set_subscriber(0, &JsValue::UNDEFINED);
        c.status_cache.borrow_mut().take();
        c.message_cache.borrow_mut().take();
        c.fast_cache.borrow_mut().take();
        c.state_cache.borrow_mut().take();
    });
    let actions = CLIENT.with(|c| {
        let mut machine = c.machine.borrow_mut();
        let actions = machine.reset();
        machine.configure(default_config());
        actions
    });
    perform_local(actions, false);
    sync_keys();
    // The goodbye went out with the actions above (the machine went idle).
    stop_sharing();
}

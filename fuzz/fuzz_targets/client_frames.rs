//! Server frames (any bytes) and socket/timer events into the client's state
//! machine. Must never panic, and must keep the machine's invariants: at most
//! one socket, sends only on an open socket, `seq` strictly increasing at
//! delivery (only a resync other than `slow_consumer` may move the resume point), attempt count
//! and send queue within their limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stellar_insights_client_core::filter::Filter;
use stellar_insights_client_core::machine::{Action, Config, Event, Machine, Timer};
use stellar_insights_client_core::status::ConnectionState;

/// Chunks starting with a byte below this are events, the rest are frames.
const EVENT_BYTES: u8 = 0x10;

fn event(code: u8) -> Event {
    match code {
        0x00 => Event::Opened,
        0x01 => Event::Closed {
            code: 1006,
            reason: String::new(),
        },
        0x02 => Event::Timer(Timer::Heartbeat),
        0x03 => Event::Timer(Timer::Reconnect),
        0x04 => Event::Timer(Timer::ConnectTimeout),
        0x05 => Event::Timer(Timer::Stable),
        0x06 => Event::Timer(Timer::Linger),
        0x07 => Event::Online,
        0x08 => Event::Offline,
        0x09 => Event::Visible { socket_open: false },
        0x0a => Event::Connect,
        0x0b => Event::Disconnect,
        0x0c => Event::Send("{\"type\":\"ping\",\"timestamp\":1}".into()),
        0x0d => Event::Acquire,
        0x0e => Event::Release,
        _ => Event::Ping,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut m = Machine::new(Config::default(), Box::new(|| 0.5));
    m.subscribe(1, &Filter::default()).unwrap();
    let mut live = false;
    // Last delivered seq; `None` before any (seq 0 is a valid first).
    let mut floor: Option<u64> = None;
    let mut now = 0.0;
    let script = [&[0x0d][..], &[0x00][..]]
        .into_iter()
        .chain(data.split(|b| *b == 0xff));
    for chunk in script {
        now += 100.0;
        let event = match chunk.first() {
            Some(&b) if b < EVENT_BYTES && chunk.len() == 1 => event(b),
            _ => {
                let text = String::from_utf8_lossy(chunk).into_owned();
                // The cheap parse on its own must not panic either.
                let _ = stellar_insights_client_core::frame::classify(&text);
                Event::Frame(text)
            }
        };
        let socket_event = matches!(
            event,
            Event::Opened | Event::Frame(_) | Event::Closed { .. }
        );
        if socket_event && !live {
            continue; // the glue's generation counter drops these
        }
        if matches!(event, Event::Closed { .. }) {
            live = false;
        }
        let actions = m.handle(now, event);
        let mut resynced = false;
        for a in &actions {
            match a {
                Action::Open(_) => {
                    assert!(!live, "second socket while one is live");
                    live = true;
                }
                Action::Close { .. } => {
                    assert!(live, "close without a socket");
                    live = false;
                }
                Action::Send(_) => assert!(live && m.is_connected(), "send without an open socket"),
                Action::Deliver(d) => {
                    assert!(!d.to.is_empty(), "delivery to nobody");
                    if let Some(seq) = d.seq {
                        assert!(
                            floor.is_none_or(|f| seq > f),
                            "seq {seq} delivered after {floor:?}"
                        );
                        floor = Some(seq);
                    }
                }
                // A slow_consumer resync keeps the resume point: the server
                // replays what was missed, so delivery must stay increasing.
                Action::Resync(r) if r.reason.as_deref() != Some("slow_consumer") => {
                    resynced = true
                }
                _ => {}
            }
        }
        if resynced {
            floor = m.last_seq();
        }
        let s = m.status();
        assert_eq!(m.is_connected(), s.state == ConnectionState::Open);
        assert!(s.attempt <= 5, "attempt {} beyond the limit", s.attempt);
        assert!(m.queued() <= 100);
        if matches!(s.state, ConnectionState::Open | ConnectionState::Connecting) {
            assert!(live, "state {:?} without a socket", s.state);
        }
        assert!(m.last_seq() >= floor, "resume point behind delivery");
    }
});

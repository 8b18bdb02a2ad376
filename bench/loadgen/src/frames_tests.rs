//! The frame reader against tungstenite's own encoder: every header length,
//! every split of the byte stream, every frame kind, and each way a stream can be invalid.

use super::*;
use proptest::prelude::*;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// A message as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>),
}

impl From<Msg<'_>> for Owned {
    fn from(m: Msg<'_>) -> Owned {
        match m {
            Msg::Text(t) => Owned::Text(t.to_owned()),
            Msg::Binary(b) => Owned::Binary(b.to_vec()),
            Msg::Ping(b) => Owned::Ping(b.to_vec()),
            Msg::Pong(b) => Owned::Pong(b.to_vec()),
            Msg::Close(c) => Owned::Close(c),
        }
    }
}

/// tungstenite's encoding of `frame`.
fn bytes(frame: Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.format(&mut out).unwrap();
    out
}

fn data(op: Data, payload: &[u8], fin: bool) -> Vec<u8> {
    bytes(Frame::message(payload.to_vec(), OpCode::Data(op), fin))
}

fn text(s: &str) -> Vec<u8> {
    data(Data::Text, s.as_bytes(), true)
}

fn close(code: u16, reason: &str) -> Vec<u8> {
    bytes(Frame::close(Some(CloseFrame {
        code: code.into(),
        reason: reason.into(),
    })))
}

/// Feeds `chunks` in order to one reader; the messages, or the first error.
fn read_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Owned>, FrameError> {
    let mut reader = FrameReader::default();
    let mut out = Vec::new();
    for chunk in chunks {
        let flow = reader.feed(chunk, |m| {
            out.push(Owned::from(m));
            ControlFlow::Continue(())
        })?;
        assert!(flow.is_continue(), "the callback never breaks");
    }
    Ok(out)
}

fn read_all(stream: &[u8]) -> Result<Vec<Owned>, FrameError> {
    read_chunks([stream])
}

#[test]
fn reads_every_header_length_tungstenite_writes() {
    // 7-bit lengths up to 125, 16-bit from 126 to 65 535, 64-bit above.
    for n in [0usize, 1, 125, 126, 127, 300, 65_535, 65_536, 70_000] {
        let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let frame = data(Data::Binary, &payload, true);
        let header = frame.len() - n;
        assert_eq!(
            header,
            match n {
                0..=125 => 2,
                126..=65_535 => 4,
                _ => 10,
            },
            "n={n}"
        );
        assert_eq!(read_all(&frame), Ok(vec![Owned::Binary(payload)]), "n={n}");
    }
}

/// Every kind of frame, a fragmented message with a ping between its fragments, all header lengths.
fn mixed_stream() -> (Vec<u8>, Vec<Owned>) {
    let long = "é".repeat(100); // 200 bytes: 16-bit length
    let mut s = Vec::new();
    s.extend(text(r#"{"type":"corridor_update","seq":1}"#));
    s.extend(data(Data::Binary, &[0, 1, 2], true));
    s.extend(bytes(Frame::ping(b"hb".to_vec())));
    s.extend(text(&long));
    s.extend(data(Data::Text, "frag".as_bytes(), false));
    s.extend(bytes(Frame::pong(Vec::new())));
    s.extend(data(Data::Continue, "men".as_bytes(), false));
    s.extend(bytes(Frame::ping(Vec::new())));
    s.extend(data(Data::Continue, "ted".as_bytes(), true));
    s.extend(text(""));
    s.extend(close(1001, "going away"));
    let want = vec![
        Owned::Text(r#"{"type":"corridor_update","seq":1}"#.into()),
        Owned::Binary(vec![0, 1, 2]),
        Owned::Ping(b"hb".to_vec()),
        Owned::Text(long),
        Owned::Pong(Vec::new()),
        Owned::Ping(Vec::new()),
        Owned::Text("fragmented".into()),
        Owned::Text(String::new()),
        Owned::Close(Some(1001)),
    ];
    (s, want)
}

#[test]
fn reads_text_binary_ping_pong_close_and_continuation_frames() {
    let (stream, want) = mixed_stream();
    assert_eq!(read_all(&stream), Ok(want));
    assert_eq!(
        read_all(&bytes(Frame::close(None))),
        Ok(vec![Owned::Close(None)])
    );
    assert_eq!(
        read_all(
            &data(Data::Binary, b"ab", false)
                .into_iter()
                .chain(data(Data::Continue, b"c", true))
                .collect::<Vec<_>>()
        ),
        Ok(vec![Owned::Binary(b"abc".to_vec())])
    );
}

#[test]
fn a_read_may_end_at_any_byte_of_the_stream() {
    let (stream, want) = mixed_stream();
    for i in 0..=stream.len() {
        let (a, b) = stream.split_at(i);
        assert_eq!(read_chunks([a, b]), Ok(want.clone()), "split at {i}");
    }
    // Two cuts: every pair over the first 40 bytes (the first frames and the cut headers).
    for i in 0..40 {
        for j in i..40 {
            let chunks = [&stream[..i], &stream[i..j], &stream[j..]];
            assert_eq!(read_chunks(chunks), Ok(want.clone()), "cuts at {i}, {j}");
        }
    }
    assert_eq!(read_chunks(stream.chunks(1)), Ok(want), "one byte per read");
}

#[test]
fn a_frame_larger_than_one_read_is_put_together() {
    let payload: Vec<u8> = (0..200_000).map(|i| (i % 253) as u8).collect();
    let mut stream = data(Data::Binary, &payload, true);
    stream.extend(text("after"));
    // 64 KiB per read, as the receiver threads read.
    let got = read_chunks(stream.chunks(64 * 1024)).unwrap();
    assert_eq!(
        got,
        vec![Owned::Binary(payload), Owned::Text("after".into())]
    );
}

#[test]
fn a_break_from_the_callback_stops_at_that_message() {
    let (stream, _) = mixed_stream();
    let mut reader = FrameReader::default();
    let mut seen = 0;
    let flow = reader
        .feed(&stream, |_| {
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert!(flow.is_break());
    assert_eq!(seen, 2);
}

#[test]
fn invalid_streams_get_a_clear_error() {
    let cases: Vec<(Vec<u8>, FrameError, &str)> = vec![
        (vec![0xC1, 0], FrameError::ReservedBits(4), "reserved bits"),
        (vec![0x81, 0x80, 1, 2, 3, 4], FrameError::Masked, "masked"),
        (
            vec![0x83, 0],
            FrameError::ReservedOpcode(3),
            "reserved opcode 3",
        ),
        (
            vec![0x8B, 0],
            FrameError::ReservedOpcode(11),
            "reserved opcode 11",
        ),
        (
            vec![0x09, 0],
            FrameError::FragmentedControl(9),
            "without FIN",
        ),
        (
            vec![0x89, 126, 0, 126],
            FrameError::ControlTooLong(126),
            "at most 125",
        ),
        (
            vec![0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1],
            FrameError::LengthTopBit,
            "top bit",
        ),
        (
            vec![0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 1],
            FrameError::TooLarge((1 << 20) + 1),
            "at most 1048576",
        ),
        (
            data(Data::Continue, b"x", true),
            FrameError::UnexpectedContinuation,
            "continuation",
        ),
        (
            [data(Data::Text, b"a", false), text("b")].concat(),
            FrameError::UnfinishedMessage,
            "fragmented message",
        ),
        (
            data(Data::Text, &[0xFF, 0xFE], true),
            FrameError::InvalidUtf8,
            "UTF-8",
        ),
        (
            [
                data(Data::Text, &[0xE2, 0x82], false),
                data(Data::Continue, &[0x28], true),
            ]
            .concat(),
            FrameError::InvalidUtf8,
            "UTF-8",
        ),
        (vec![0x88, 1, 3], FrameError::BadClose, "1-byte"),
        (
            vec![0x88, 4, 3, 0xE8, 0xFF, 0xFF],
            FrameError::InvalidUtf8,
            "UTF-8",
        ),
    ];
    for (stream, want, words) in cases {
        let got = read_all(&stream).unwrap_err();
        assert_eq!(got, want, "{stream:?}");
        assert!(got.to_string().contains(words), "{got}");
        // The same error whatever the reads: byte by byte too.
        assert_eq!(read_chunks(stream.chunks(1)).unwrap_err(), want);
    }
}

#[test]
fn fragments_above_the_limit_are_refused() {
    let half = vec![b'a'; MAX_MESSAGE / 2 + 1];
    let stream = [
        data(Data::Binary, &half, false),
        data(Data::Continue, &half, true),
    ]
    .concat();
    assert_eq!(
        read_all(&stream),
        Err(FrameError::TooLarge(2 * half.len() as u64))
    );
}

/// A message and the frames tungstenite encodes it as (split into `parts` fragments,
/// with a ping between fragments when asked).
#[derive(Debug, Clone)]
enum Gen {
    Text(String, usize, bool),
    Binary(Vec<u8>, usize, bool),
    Ping(Vec<u8>),
    Close(Option<(u16, String)>),
}

fn gen() -> impl Strategy<Value = Gen> {
    prop_oneof![
        ("\\PC{0,300}", 1..4usize, any::<bool>()).prop_map(|(s, p, i)| Gen::Text(s, p, i)),
        (
            proptest::collection::vec(any::<u8>(), 0..70_000),
            1..4usize,
            any::<bool>()
        )
            .prop_map(|(b, p, i)| Gen::Binary(b, p, i)),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Gen::Ping),
        proptest::option::of((1000u16..5000, "[a-z ]{0,60}")).prop_map(Gen::Close),
    ]
}

fn encode(g: &Gen, out: &mut Vec<u8>, want: &mut Vec<Owned>) {
    let fragmented = |op: Data, payload: &[u8], parts: usize, ping: bool, out: &mut Vec<u8>| {
        let size = payload.len().div_ceil(parts).max(1);
        let chunks: Vec<&[u8]> = if payload.is_empty() {
            vec![&[]]
        } else {
            payload.chunks(size).collect()
        };
        for (i, c) in chunks.iter().enumerate() {
            let op = if i == 0 { op } else { Data::Continue };
            out.extend(data(op, c, i + 1 == chunks.len()));
            if ping && i + 1 < chunks.len() {
                out.extend(bytes(Frame::ping(vec![i as u8])));
            }
        }
        chunks.len()
    };
    match g {
        Gen::Text(s, parts, ping) => {
            let n = fragmented(Data::Text, s.as_bytes(), *parts, *ping, out);
            if *ping {
                want.extend((0..n - 1).map(|i| Owned::Ping(vec![i as u8])));
            }
            want.push(Owned::Text(s.clone()));
        }
        Gen::Binary(b, parts, ping) => {
            let n = fragmented(Data::Binary, b, *parts, *ping, out);
            if *ping {
                want.extend((0..n - 1).map(|i| Owned::Ping(vec![i as u8])));
            }
            want.push(Owned::Binary(b.clone()));
        }
        Gen::Ping(p) => {
            out.extend(bytes(Frame::ping(p.clone())));
            want.push(Owned::Ping(p.clone()));
        }
        Gen::Close(c) => {
            match c {
                Some((code, reason)) => out.extend(close(*code, reason)),
                None => out.extend(bytes(Frame::close(None))),
            }
            want.push(Owned::Close(c.as_ref().map(|(code, _)| *code)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever tungstenite encodes, cut into reads anywhere, reads back as the same messages.
    #[test]
    fn reads_back_what_tungstenite_encodes(
        msgs in proptest::collection::vec(gen(), 1..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let (mut stream, mut want) = (Vec::new(), Vec::new());
        for m in &msgs {
            encode(m, &mut stream, &mut want);
        }
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut from = 0;
        for &to in &at {
            chunks.push(&stream[from..to]);
            from = to;
        }
        chunks.push(&stream[from..]);
        prop_assert_eq!(read_chunks(chunks), Ok(want));
    }

    /// Our header reading agrees with tungstenite's on any bytes it accepts
    /// (tungstenite leaves the mask, RSV and control checks to a later stage).
    #[test]
    fn headers_agree_with_tungstenites_parser(b in proptest::collection::vec(any::<u8>(), 0..12)) {
        let theirs = FrameHeader::parse(&mut std::io::Cursor::new(&b));
        match header(&b) {
            Ok(Ok(h)) => {
                let (th, len) = theirs.unwrap().expect("tungstenite sees a complete header too");
                prop_assert_eq!(th.is_final, h.fin);
                prop_assert_eq!(u8::from(th.opcode), h.opcode);
                prop_assert_eq!(len, h.payload as u64);
                prop_assert_eq!(th.len(len), h.len);
            }
            Ok(Err(n)) => {
                prop_assert!(n > b.len());
                prop_assert!(matches!(theirs, Ok(None)));
            }
            Err(_) => {}
        }
    }

    /// Garbage never panics: it reads as messages or stops at an error.
    #[test]
    fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400), cut in 0..400usize) {
        let cut = cut.min(b.len());
        let _ = read_chunks([&b[..cut], &b[cut..]]);
    }
}

//! A sans-IO reader of the WebSocket frames a server sends (RFC 6455 §5), for
//! the load generator's receive path: it parses the bytes one `read` returned
//! in place, hands each complete message to a callback as a borrowed slice, and
//! copies only what a read cut in the middle of a frame (or a fragmented
//! message) into buffers of its own. tungstenite allocates per message and
//! keeps an 8 KiB buffer per socket that it zeroes on every read; the measured
//! reason for this file is in `bench/README.md`. Outgoing frames (pong, close)
//! are still encoded by tungstenite (`receiver::masked`).
//!
//! Checks, as a client must make them: no reserved bits (no extension is
//! negotiated), no mask (server frames are unmasked), no reserved opcode,
//! control frames unfragmented and at most 125 bytes, a 64-bit length with its
//! top bit clear, no continuation without a started message and no new data
//! frame inside one, text and close reasons valid UTF-8, a close payload of 0
//! or at least 2 bytes, and no message above [`MAX_MESSAGE`].

use std::fmt;
use std::ops::ControlFlow;

/// Largest message (payload of one frame, or of all fragments together) accepted, bytes. Value 1 MiB:
/// the fan-out frames are ~300 B.
pub const MAX_MESSAGE: usize = 1 << 20;

/// A complete message, borrowed from the bytes just read or from the reader's own buffers.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg<'a> {
    /// A text message (UTF-8 checked).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// A protocol ping; the client must answer with a pong carrying the same payload.
    Ping(&'a [u8]),
    /// A protocol pong.
    Pong(&'a [u8]),
    /// A close frame, with its status code when it carries one.
    Close(Option<u16>),
}

/// Why the byte stream is not a valid sequence of server frames. The connection cannot go on after one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// RSV1–3 set, but no extension was negotiated.
    ReservedBits(u8),
    /// A masked frame: a server must not mask (RFC 6455 §5.1).
    Masked,
    /// Opcode 3–7 or 11–15.
    ReservedOpcode(u8),
    /// A control frame (close, ping, pong) without FIN.
    FragmentedControl(u8),
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong(u64),
    /// A 64-bit length with its most significant bit set.
    LengthTopBit,
    /// A message larger than [`MAX_MESSAGE`], bytes.
    TooLarge(u64),
    /// A continuation frame with no fragmented message started.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is still open.
    UnfinishedMessage,
    /// A text message or close reason that is not UTF-8.
    InvalidUtf8,
    /// A close frame with a 1-byte payload.
    BadClose,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedBits(b) => write!(f, "reserved bits {b:#05b} set in a frame"),
            FrameError::Masked => f.write_str("masked frame from the server"),
            FrameError::ReservedOpcode(op) => write!(f, "reserved opcode {op}"),
            FrameError::FragmentedControl(op) => {
                write!(f, "control frame (opcode {op}) without FIN")
            }
            FrameError::ControlTooLong(n) => {
                write!(f, "control frame of {n} bytes (at most 125)")
            }
            FrameError::LengthTopBit => f.write_str("64-bit frame length with its top bit set"),
            FrameError::TooLarge(n) => {
                write!(f, "message of {n} bytes (at most {MAX_MESSAGE})")
            }
            FrameError::UnexpectedContinuation => {
                f.write_str("continuation frame without a started message")
            }
            FrameError::UnfinishedMessage => {
                f.write_str("new data frame inside a fragmented message")
            }
            FrameError::InvalidUtf8 => f.write_str("text that is not UTF-8"),
            FrameError::BadClose => f.write_str("close frame with a 1-byte payload"),
        }
    }
}

impl std::error::Error for FrameError {}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    fin: bool,
    opcode: u8,
    /// Header bytes: 2, 4 or 10.
    len: usize,
    /// Payload bytes.
    payload: usize,
}

/// Bytes needed before the frame at the start of `buf` can be parsed further:
/// `Err` on an invalid header, `Ok(Ok(header))` once the header is complete,
/// `Ok(Err(n))` when the header needs `n` bytes in all (`n > buf.len()`).
fn header(buf: &[u8]) -> Result<Result<Header, usize>, FrameError> {
    let [b0, b1, ..] = *buf else {
        return Ok(Err(2));
    };
    if b0 & 0x70 != 0 {
        return Err(FrameError::ReservedBits((b0 >> 4) & 0x7));
    }
    if b1 & 0x80 != 0 {
        return Err(FrameError::Masked);
    }
    let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
    if matches!(opcode, 3..=7 | 11..=15) {
        return Err(FrameError::ReservedOpcode(opcode));
    }
    let (len, payload) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (4, u64::from(u16::from_be_bytes([b[0], b[1]]))),
            None => return Ok(Err(4)),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let n = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                if n >> 63 != 0 {
                    return Err(FrameError::LengthTopBit);
                }
                (10, n)
            }
            None => return Ok(Err(10)),
        },
        n => (2, u64::from(n)),
    };
    if opcode >= 8 {
        if !fin {
            return Err(FrameError::FragmentedControl(opcode));
        }
        if payload > 125 {
            return Err(FrameError::ControlTooLong(payload));
        }
    }
    if payload > MAX_MESSAGE as u64 {
        return Err(FrameError::TooLarge(payload));
    }
    Ok(Ok(Header {
        fin,
        opcode,
        len,
        payload: payload as usize,
    }))
}

/// The frame reader of one connection: the tail of a frame a read cut short,
/// and the fragments of an unfinished message. Both stay empty (no heap) while
/// frames arrive whole.
#[derive(Debug, Default)]
pub struct FrameReader {
    /// Start of a frame whose end has not been read yet.
    pending: Vec<u8>,
    /// Opcode (1 text, 2 binary) and payload so far of a fragmented message.
    fragments: Option<(u8, Vec<u8>)>,
}

impl FrameReader {
    /// Hands every message completed by `data` (the bytes of one read, in
    /// order) to `on`, keeping an incomplete frame for the next call. Stops
    /// early, returning `Break`, when `on` breaks; the rest of `data` is then
    /// dropped (the caller ends the connection).
    pub fn feed(
        &mut self,
        mut data: &[u8],
        mut on: impl FnMut(Msg<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, FrameError> {
        // Complete a frame started by an earlier read, taking no byte past its end.
        while !self.pending.is_empty() {
            let need = match header(&self.pending)? {
                Ok(h) => h.len + h.payload,
                Err(n) => n,
            };
            if self.pending.len() < need {
                let take = (need - self.pending.len()).min(data.len());
                if take == 0 {
                    return Ok(ControlFlow::Continue(()));
                }
                self.pending.extend_from_slice(&data[..take]);
                data = &data[take..];
                continue;
            }
            let Ok(h) = header(&self.pending)? else {
                unreachable!("a complete header parsed above")
            };
            let frame = std::mem::take(&mut self.pending);
            let flow = self.frame(h, &frame[h.len..], &mut on)?;
            // Keep a small buffer for the next cut frame, not a large one.
            if frame.capacity() <= 4096 {
                self.pending = frame;
                self.pending.clear();
            }
            if flow.is_break() {
                return Ok(flow);
            }
        }
        while !data.is_empty() {
            match header(data)? {
                Ok(h) if data.len() >= h.len + h.payload => {
                    let (frame, rest) = data.split_at(h.len + h.payload);
                    data = rest;
                    if self.frame(h, &frame[h.len..], &mut on)?.is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                _ => {
                    self.pending.extend_from_slice(data);
                    break;
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// One complete frame: a message for `on`, or a fragment kept for later.
    fn frame(
        &mut self,
        h: Header,
        payload: &[u8],
        on: &mut impl FnMut(Msg<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, FrameError> {
        match h.opcode {
            0 => {
                let (opcode, mut buf) = self
                    .fragments
                    .take()
                    .ok_or(FrameError::UnexpectedContinuation)?;
                let total = buf.len() + payload.len();
                if total > MAX_MESSAGE {
                    return Err(FrameError::TooLarge(total as u64));
                }
                buf.extend_from_slice(payload);
                if h.fin {
                    data_message(opcode, &buf, on)
                } else {
                    self.fragments = Some((opcode, buf));
                    Ok(ControlFlow::Continue(()))
                }
            }
            1 | 2 if self.fragments.is_some() => Err(FrameError::UnfinishedMessage),
            1 | 2 if h.fin => data_message(h.opcode, payload, on),
            1 | 2 => {
                self.fragments = Some((h.opcode, payload.to_vec()));
                Ok(ControlFlow::Continue(()))
            }
            8 => match payload {
                [] => Ok(on(Msg::Close(None))),
                [_] => Err(FrameError::BadClose),
                [a, b, reason @ ..] => {
                    std::str::from_utf8(reason).map_err(|_| FrameError::InvalidUtf8)?;
                    Ok(on(Msg::Close(Some(u16::from_be_bytes([*a, *b])))))
                }
            },
            9 => Ok(on(Msg::Ping(payload))),
            _ => Ok(on(Msg::Pong(payload))),
        }
    }
}

fn data_message(
    opcode: u8,
    payload: &[u8],
    on: &mut impl FnMut(Msg<'_>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, FrameError> {
    Ok(on(if opcode == 1 {
        Msg::Text(std::str::from_utf8(payload).map_err(|_| FrameError::InvalidUtf8)?)
    } else {
        Msg::Binary(payload)
    }))
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;

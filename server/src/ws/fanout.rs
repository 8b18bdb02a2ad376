//! Live updates to many connections from a few writer tasks (issue 16 §2).
//!
//! One task per connection, woken for every update, cost the server ~6 µs of
//! user CPU per delivery at 10 000 clients: 10 000 wake-ups and polls per
//! update, each touching cold memory, and a copy of the frame per connection.
//! Here a few writers (one per core) each own a share of the connections.
//! For each update a writer encodes the WebSocket frame once (server frames
//! are unmasked, so the bytes are the same for every client) and, per
//! connection, checks the seq and the filter in its own array of
//! `Entry`s (`outbox.rs`) and writes the shared bytes with one non-blocking `send(2)`.
//! A socket that is full gets the frame queued (a shared handle) in its
//! `Outbox` and its own task writes it when the socket has room; more than
//! `WS_SEND_QUEUE` frames waiting makes the client slow (`resync_required` +
//! close 4001, as before).
//!
//! A connection's task still reads its socket, answers, pings and closes; it
//! hands live delivery to a writer once its replay is sent (`Fanout::join`)
//! and takes it back (the outbox's detach) for a state subscription (whose
//! deltas and conflation are per connection), to close, or at its end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use stellar_insights_protocol::{ResyncReason, ServerMessage};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch, Notify};

use super::outbox::{text_frame, Entry, Offered, Outbox};
use crate::hub::{Hub, Update};
use crate::metrics::Metrics;

/// The writers of one server.
pub struct Fanout {
    shards: Vec<Arc<Shard>>,
    next: AtomicUsize,
}

/// One writer's share of the connections: how tasks reach it.
pub struct Shard {
    /// Joins waiting for the writer, and whether it still takes them.
    joins: Mutex<Joins>,
    /// Connections whose subscription, queue or attachment changed.
    dirty: Mutex<Vec<Arc<Outbox>>>,
    /// Wakes the writer: a join or a dirty connection.
    changed: Notify,
    /// `true` once the writer has sent every update published before shutdown
    /// and let go of every connection.
    drained: watch::Sender<bool>,
}

#[derive(Default)]
struct Joins {
    waiting: Vec<Join>,
    /// The writer stopped (shutdown): joins are refused.
    closed: bool,
}

/// A connection handing its live delivery to a writer.
struct Join {
    out: Arc<Outbox>,
    /// The connection's receiver: it holds the updates published since the
    /// connection subscribed that the writer may already have passed.
    rx: broadcast::Receiver<Arc<Update>>,
}

impl Shard {
    fn new() -> Shard {
        Shard {
            joins: Mutex::new(Joins::default()),
            dirty: Mutex::new(Vec::new()),
            changed: Notify::new(),
            drained: watch::channel(false).0,
        }
    }

    /// A shard with no writer (the outbox's unit tests play the writer).
    #[cfg(test)]
    pub(crate) fn detached_for_tests() -> Arc<Shard> {
        Arc::new(Shard::new())
    }

    /// The connections marked dirty so far (the outbox's unit tests play the writer).
    #[cfg(test)]
    pub(crate) fn take_dirty(&self) -> Vec<Arc<Outbox>> {
        std::mem::take(&mut self.dirty.lock().unwrap())
    }

    /// Puts `out` on the writer's dirty list and wakes the writer.
    pub(crate) fn dirty(&self, out: Arc<Outbox>) {
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(out);
        self.changed.notify_one();
    }

    /// Completes once the writer has sent every update published before
    /// shutdown and let go of its connections (at once if it has stopped).
    pub(crate) async fn drained(&self) {
        let mut rx = self.drained.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }
}

impl Fanout {
    /// Starts `writers` writer tasks (at least one) on the hub; each allows
    /// `queue_limit` frames (`WS_SEND_QUEUE`) to wait per connection.
    pub fn start(
        hub: &Hub,
        writers: usize,
        queue_limit: usize,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Fanout {
        let shards = (0..writers.max(1))
            .map(|n| {
                let shard = Arc::new(Shard::new());
                let writer = Writer {
                    shard: Arc::clone(&shard),
                    entries: Vec::new(),
                    pos: hub.published_seq(),
                    limit: queue_limit.max(1),
                    metrics: Arc::clone(&metrics),
                    gap: text_frame(
                        ServerMessage::ResyncRequired {
                            reason: Some(ResyncReason::Gap),
                        }
                        .to_json()
                        .as_bytes(),
                    ),
                };
                let (rx, shutdown) = (hub.subscribe(), shutdown.clone());
                // A thread of its own, like the floor's writers: on the shared
                // runtime both writers often ran one after the other on one
                // worker, doubling the fan-out's first-to-last time.
                std::thread::Builder::new()
                    .name(format!("fanout-{n}"))
                    .spawn(
                        move || match tokio::runtime::Builder::new_current_thread().build() {
                            Ok(rt) => rt.block_on(writer.run(rx, shutdown)),
                            Err(e) => tracing::error!(error = %e, "cannot start a fan-out writer"),
                        },
                    )
                    .expect("spawn a fan-out writer thread");
                shard
            })
            .collect();
        Fanout {
            shards,
            next: AtomicUsize::new(0),
        }
    }

    /// Hands `out`'s live delivery to a writer: updates above `last_seq`,
    /// starting with those `rx` holds. `Err` gives `rx` back when the writers
    /// have stopped (shutdown): the connection keeps delivering itself.
    pub(crate) fn join(
        &self,
        out: &Arc<Outbox>,
        last_seq: u64,
        rx: broadcast::Receiver<Arc<Update>>,
    ) -> Result<Arc<Shard>, broadcast::Receiver<Arc<Update>>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let shard = &self.shards[n];
        {
            let mut joins = shard.joins.lock().unwrap_or_else(|e| e.into_inner());
            if joins.closed {
                return Err(rx);
            }
            out.attach(Arc::clone(shard), last_seq);
            joins.waiting.push(Join {
                out: Arc::clone(out),
                rx,
            });
        }
        shard.changed.notify_one();
        Ok(Arc::clone(shard))
    }
}

struct Writer {
    shard: Arc<Shard>,
    entries: Vec<Entry>,
    /// Seq of the last update this writer fanned out.
    pos: u64,
    limit: usize,
    metrics: Arc<Metrics>,
    /// `resync_required` (`gap`), framed once.
    gap: Bytes,
}

impl Writer {
    async fn run(
        mut self,
        mut rx: broadcast::Receiver<Arc<Update>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut stop = std::pin::pin!(crate::until_shutdown(&mut shutdown));
        loop {
            tokio::select! {
                biased;
                () = &mut stop => break,
                () = self.shard.changed.notified() => self.take_changes(),
                update = rx.recv() => match update {
                    Ok(update) => {
                        self.take_changes();
                        self.fan(&update);
                    }
                    Err(RecvError::Lagged(missed)) => {
                        // Not reached at the publishing rates this server takes (a
                        // writer only does non-blocking writes); if it is, every
                        // connection of this writer missed updates.
                        tracing::warn!(missed, "fan-out writer fell behind: its clients must resync");
                        for entry in self.entries.drain(..) {
                            entry.make_slow();
                        }
                    }
                    Err(RecvError::Closed) => break,
                },
            }
        }
        // Send what was published before the stop, then hand every connection
        // back to its task, which closes it.
        loop {
            self.take_changes();
            match rx.try_recv() {
                Ok(update) => self.fan(&update),
                Err(TryRecvError::Lagged(_)) => {
                    for entry in self.entries.drain(..) {
                        entry.make_slow();
                    }
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        let late = {
            let mut joins = self.shard.joins.lock().unwrap_or_else(|e| e.into_inner());
            joins.closed = true;
            std::mem::take(&mut joins.waiting)
        };
        self.admit(late);
        self.take_changes();
        for entry in self.entries.drain(..) {
            entry.release();
        }
        self.shard.drained.send_replace(true);
    }

    /// Reads the dirty list (subscriptions, queued frames of the tasks,
    /// detaches), then admits waiting joins.
    fn take_changes(&mut self) {
        let dirty =
            std::mem::take(&mut *self.shard.dirty.lock().unwrap_or_else(|e| e.into_inner()));
        for out in dirty {
            if let Some(slot) = Entry::look(&out, &mut self.entries) {
                self.remove(slot);
            }
        }
        let joins = std::mem::take(
            &mut self
                .shard
                .joins
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .waiting,
        );
        self.admit(joins);
    }

    fn remove(&mut self, slot: usize) {
        self.entries.swap_remove(slot);
        if let Some(moved) = self.entries.get(slot) {
            moved.moved_to(slot);
        }
    }

    /// Each joining connection first gets, from its own receiver, the
    /// updates this writer has already passed (`seq <= pos`); the later ones
    /// come with every other connection's.
    fn admit(&mut self, joins: Vec<Join>) {
        for Join { out, mut rx } in joins {
            let Some(mut entry) = Entry::admit(out, self.entries.len()) else {
                continue;
            };
            let mut live = true;
            loop {
                match rx.try_recv() {
                    Ok(update) if update.seq <= self.pos => {
                        let frame = text_frame(update.json.as_bytes());
                        match offer(
                            &self.metrics,
                            &self.gap,
                            self.limit,
                            &mut entry,
                            &update,
                            &frame,
                        ) {
                            Offered::Gone => {
                                live = false;
                                break;
                            }
                            Offered::Written | Offered::Queued => self.metrics.frames_sent.add(1),
                            Offered::Skipped => {}
                        }
                    }
                    Ok(_) | Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    Err(TryRecvError::Lagged(_)) => {
                        live = false;
                        break;
                    }
                }
            }
            if live {
                self.entries.push(entry);
            } else {
                // Gone already, or lagged (missed updates): must resync.
                entry.make_slow();
            }
        }
    }

    /// One update to every connection of this writer.
    fn fan(&mut self, update: &Update) {
        self.pos = self.pos.max(update.seq);
        let frame = text_frame(update.json.as_bytes());
        let mut sent = 0u64;
        let mut i = 0;
        while i < self.entries.len() {
            let offered = offer(
                &self.metrics,
                &self.gap,
                self.limit,
                &mut self.entries[i],
                update,
                &frame,
            );
            match offered {
                Offered::Written | Offered::Queued => sent += 1,
                Offered::Skipped => {}
                Offered::Gone => {
                    // The last entry moves here and is offered next.
                    self.remove(i);
                    continue;
                }
            }
            i += 1;
        }
        // One add per update, not one per delivery.
        self.metrics.frames_sent.add(sent);
    }
}

/// Offers `update` (framed as `frame`) to one connection (see [`Entry::offer`]).
fn offer(
    metrics: &Metrics,
    gap: &Bytes,
    limit: usize,
    entry: &mut Entry,
    update: &Update,
    frame: &Bytes,
) -> Offered {
    let offered = entry.offer(update, frame, gap, limit, |from| {
        tracing::info!(from, to = update.seq, "gap in the update stream");
        metrics.resync(&ResyncReason::Gap);
    });
    if offered == Offered::Written {
        // Records the fan-out start once per update (a load of a shared flag after that).
        update.sent(metrics);
    }
    offered
}

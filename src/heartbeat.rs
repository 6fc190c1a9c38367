//! A small built-in process that exercises the kernel end to end: every
//! node pings every other cluster node each `interval`, peers ack, and the
//! pinger measures round trips. Each boot bumps a durable epoch counter, so
//! crash/restart shows what survives (the epoch) and what does not (the
//! volatile counters).

use crate::ids::{NodeId, TimerId};
use crate::process::{Context, Digest, Message, Process};
use crate::time::{SimDuration, SimTime};

/// Heartbeat messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HbMsg {
    /// "Are you there?", stamped with the sender's epoch and local send time.
    Ping {
        /// Sender's boot epoch.
        epoch: u64,
        /// Sender's sequence number.
        seq: u64,
        /// Sender's local clock at send.
        sent_at: SimTime,
    },
    /// Answer to a ping, echoing its fields.
    Ack {
        /// Echoed epoch.
        epoch: u64,
        /// Echoed sequence number.
        seq: u64,
        /// Echoed send time.
        sent_at: SimTime,
    },
}

impl Message for HbMsg {
    fn kind(&self) -> &'static str {
        match self {
            HbMsg::Ping { .. } => "ping",
            HbMsg::Ack { .. } => "ack",
        }
    }
    fn digest(&self, d: &mut Digest) {
        let (HbMsg::Ping {
            epoch,
            seq,
            sent_at,
        }
        | HbMsg::Ack {
            epoch,
            seq,
            sent_at,
        }) = self;
        d.write_u64(*epoch);
        d.write_u64(*seq);
        d.write_u64(sent_at.0);
    }
    fn size_bytes(&self) -> usize {
        32
    }
}

/// The only durable record: the boot epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(pub u64);

const TICK: TimerId = TimerId(1);

/// A heartbeat node.
#[derive(Debug, Clone)]
pub struct HeartbeatNode {
    peers: u32,
    interval: SimDuration,
    /// Boot epoch: 1 on first boot, +1 per restart (durable).
    pub epoch: u64,
    seq: u64,
    /// Pings sent in this incarnation (volatile).
    pub pings_sent: u64,
    /// Acks received for this incarnation's pings (volatile).
    pub acks_received: u64,
    /// Acks for pings of an earlier incarnation (they crossed a crash).
    pub stale_acks: u64,
    /// Sum of round-trip times of acked pings, microseconds (volatile).
    pub rtt_sum_us: u64,
    /// Largest round trip seen, microseconds (volatile).
    pub rtt_max_us: u64,
}

impl HeartbeatNode {
    /// Rebuild from durable records: the latest epoch.
    pub fn recover(peers: u32, interval: SimDuration, records: &[Epoch]) -> Self {
        HeartbeatNode {
            peers,
            interval,
            epoch: records.last().map_or(0, |e| e.0),
            seq: 0,
            pings_sent: 0,
            acks_received: 0,
            stale_acks: 0,
            rtt_sum_us: 0,
            rtt_max_us: 0,
        }
    }
}

impl Process for HeartbeatNode {
    type Msg = HbMsg;
    type Record = Epoch;

    fn on_start(&mut self, ctx: &mut Context<'_, HbMsg, Epoch>) {
        self.epoch += 1;
        ctx.persist(Epoch(self.epoch));
        ctx.sync();
        ctx.set_timer(TICK, self.interval);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, HbMsg, Epoch>, from: NodeId, msg: HbMsg) {
        match msg {
            HbMsg::Ping {
                epoch,
                seq,
                sent_at,
            } => ctx.send(
                from,
                HbMsg::Ack {
                    epoch,
                    seq,
                    sent_at,
                },
            ),
            HbMsg::Ack { epoch, sent_at, .. } => {
                if epoch != self.epoch {
                    self.stale_acks += 1;
                    return;
                }
                let rtt = ctx.now().saturating_since(sent_at).as_micros();
                self.acks_received += 1;
                self.rtt_sum_us += rtt;
                self.rtt_max_us = self.rtt_max_us.max(rtt);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, HbMsg, Epoch>, _id: TimerId) {
        let me = ctx.id();
        for p in (0..self.peers).map(NodeId).filter(|&p| p != me) {
            self.seq += 1;
            self.pings_sent += 1;
            let msg = HbMsg::Ping {
                epoch: self.epoch,
                seq: self.seq,
                sent_at: ctx.now(),
            };
            ctx.send(p, msg);
        }
        ctx.set_timer(TICK, self.interval);
    }
}

//! The kernel: event queue, world loop, durable disks, the trace hash.
//!
//! The kernel is generic over [`crate::process::Process`] and knows no
//! protocol. It owns everything that could make two runs differ: time,
//! ordering, randomness, the network, durability and faults.

pub mod disk;
pub mod queue;
pub mod trace;
pub mod world;

pub use world::{
    ClockModel, DispatchKind, Dispatched, NodeStatus, Observer, Progress, TraceEvent, World,
    WorldConfig, PROGRESS_EVERY,
};

//! The kernel: event queue, world loop, durable disks, the trace hash.
//!
//! The kernel is generic over [`crate::process::Process`] and knows no
//! protocol. It owns everything that could make two runs differ: time,
//! ordering, randomness, the network, durability and faults.
//!
//! - `world`: the event loop and effect application;
//! - `build`: building a world (checks, first processes, streams, boot
//!   events);
//! - `views`: the world's read-only views and run settings;
//! - `clock`: per-node clocks (drift, timer jitter);
//! - `faults`: applying scripted faults and their undos;
//! - `nemesis`: the random fault generator;
//! - `crash_points`: faults tied to protocol events (`crash_at` crash
//!   points a process reports, message rules by message kind);
//! - `observer`: what observers, the tracer and progress callbacks see.

mod build;
mod clock;
mod crash_points;
pub mod disk;
mod faults;
mod nemesis;
pub mod observer;
pub mod queue;
pub mod trace;
mod views;
pub mod world;

pub use clock::ClockModel;
pub use observer::{DispatchKind, Dispatched, Observer, Progress, TraceEvent, PROGRESS_EVERY};
pub use world::{BuildError, NodeStatus, World, WorldConfig};

//! # agentsim
//!
//! A deterministic discrete-event simulator for distributed systems. Many
//! virtual nodes run inside one event loop with virtual time, one seeded
//! random source, a simulated network (partitions, loss, duplication,
//! delay, reordering) and crashes, pauses and clock skew. The same scenario
//! and seed give the same run, bit for bit, and the run's BLAKE3 trace hash
//! proves it.
//!
//! The crate ships Raft (pre-vote, check-quorum, snapshots, crash recovery)
//! under a replicated key-value store with linearizability checking, and
//! multi-agent collaboration on a Raft-replicated or gossiping coordinator.
//! The `agentsim` binary drives all of it from scenario files; this page is
//! about building on the library.
//!
//! ## What the kernel guarantees
//!
//! - **Determinism.** Time is integer microseconds ([`SimTime`],
//!   [`SimDuration`]). Events are ordered by (time, insertion sequence).
//!   Every random draw comes from a ChaCha8 stream derived from the seed
//!   and a stable label ([`SimRng`]), so adding a draw to one concern never
//!   shifts another. Same inputs, same [`World::trace_hash`].
//! - **Sans-IO nodes.** A node is a [`Process`]: it gets a start, a message
//!   or a timer plus a [`Context`] (its id, its local clock, its own random
//!   stream) and answers by writing effects (send, set or cancel a timer,
//!   persist, sync). It never reads a clock or touches a file, so the
//!   kernel owns everything that could make two runs differ.
//! - **Durability.** Records are durable only once a sync completes; every
//!   effect after a sync waits for it, so a node never acknowledges what a
//!   crash could lose. A restart rebuilds the node from its synced records
//!   (the factory you give [`World::new`]).
//! - **Faults at send time.** Partitions and link faults drop what is sent
//!   across them; a message already in flight still arrives. Messages to a
//!   crashed node are lost; a paused node's messages and timers wait.
//! - **Checkers observe, never steer.** An [`Observer`] sees the world
//!   after every event through shared references and may only ask the run
//!   to stop.
//!
//! ## Writing a protocol
//!
//! Implement [`Process`] (with a [`Message`] type that can fold itself into
//! the trace hash), build a [`World`] from a [`WorldConfig`] (network,
//! disk, scripted faults, an optional nemesis), and run it with an
//! observer that checks your invariant:
//!
//! ```no_run
//! # use agentsim::*;
//! # fn demo<P: Process + 'static>(cfg: WorldConfig, make: fn(NodeId, &[P::Record]) -> P) {
//! let mut world = World::new(cfg, 3, Box::new(move |id, records| Ok(make(id, records))))
//!     .expect("valid configuration");
//! world.run(&mut ()); // or `&mut your_checker`
//! println!("{} events, trace {}", world.events(), world.trace_hash());
//! # }
//! ```
//!
//! `examples/gossip_counter.rs` is a complete protocol (a grow-only
//! counter spread by gossip) under partitions and crashes, with its own
//! invariant checker that catches a planted durability bug.
//!
//! ## Running Raft with your own state machine
//!
//! [`RaftNode`] is generic over [`StateMachine`]: give it a command type,
//! an output type and a snapshot encoding and it replicates them.
//! `examples/raft_bank.rs` runs a bank (transfers between accounts) on a
//! five-node cluster with crashes and checks that money is conserved.
//!
//! ## Scenarios, reports and sweeps
//!
//! Everything the CLI does is a function here: [`Scenario::load`] parses
//! and validates a scenario file (errors name the field and line:col),
//! [`run`] runs it and returns a [`Report`] with every checker's verdict,
//! [`sweep::run_seed`] runs one seed of a sweep (optionally with a random
//! swarm draw of faults). `examples/sweep_from_code.rs` sweeps seeds of a
//! shipped scenario with a planted Raft bug and prints the seeds that
//! fail, with the command that replays each.
//!
//! ## Features
//!
//! - `plot` (default through `cli`): SVG/PNG charts, the HTML report and
//!   the Chrome trace export ([`plot`]).
//! - `cli` (default): the `agentsim` binary's subcommands ([`cli`]).
//!
//! A library user can depend on `agentsim` with
//! `default-features = false` and get the kernel, protocols, checkers,
//! scenarios, reports and sweeps without plotters or clap.
//!
//! ## Where things live
//!
//! The modules below are public so tests, benches and tools can reach
//! everything; the re-exports at the crate root are the stable entry
//! points. `ARCHITECTURE.md` in the repository has the codemap and the
//! invariants each module boundary keeps.

pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
pub mod collab;
pub mod dist;
pub mod escape;
pub mod fault;
pub mod heartbeat;
pub mod ids;
pub mod kv;
pub mod metrics;
pub mod net;
#[cfg(feature = "plot")]
pub mod plot;
pub mod process;
pub mod raft;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod sweep;
pub mod time;

// The kernel: a world of processes, its configuration, what observers see.
pub use sim::{ClockModel, DispatchKind, Dispatched, NodeStatus, Observer, World, WorldConfig};

// The contract every simulated node implements.
pub use process::{Context, Digest, Effect, Message, Process, Role};

// Shared vocabulary.
pub use ids::{NodeId, TimerId};
pub use rng::SimRng;
pub use time::{SimDuration, SimTime};

// The network and fault model a `WorldConfig` is built from.
pub use dist::Dist;
pub use fault::{FaultAction, NemesisConfig, NemesisKind, ScheduledFault, Target};
pub use net::{LinkParams, NetConfig};

// Raft and the replicated state machines it runs.
pub use raft::{Command, CommandOutput, RaftConfig, RaftNode, StateMachine};

// Scenario files, runs and their reports.
pub use metrics::{CheckFailure, Checks, Report};
pub use runner::{run, RunOptions, RunOutput};
pub use scenario::{InputError, InputErrors, Scenario};

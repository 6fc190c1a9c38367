//! Your own replicated state machine on agentsim's Raft: a bank.
//!
//! Four accounts start with 100 each; clients transfer money between them
//! and audit the total, every command going through the Raft log of a
//! five-node cluster whose leader is crashed again and again, with a
//! partition in the middle of the run. Two checks watch the run:
//! - an observer reads every server's state machine after every event and
//!   requires the total to stay 400 (money is neither made nor lost);
//! - every audit a client gets back must report 400.
//!
//! The planted bug (`Bank::leaky`) credits the receiver before it finds
//! that the sender cannot pay, and leaves the credit in place: the checker
//! catches it as soon as a server applies such a transfer.
//!
//! Run: `cargo run --release --example raft_bank`.

use agentsim::raft::{
    ByteReader, ByteWriter, ClientRequest, ClientResponse, ClientResult, Msg, Record,
};
use agentsim::{
    Command, CommandOutput, Context, Digest, Dispatched, Dist, FaultAction, LinkParams, NetConfig,
    NodeId, Observer, Process, RaftConfig, RaftNode, Role, ScheduledFault, SimDuration, SimTime,
    StateMachine, Target, TimerId, World, WorldConfig,
};

const SERVERS: u32 = 5;
const CLIENTS: u32 = 3;
const ACCOUNTS: usize = 4;
const TOTAL: u64 = 100 * ACCOUNTS as u64;
const RETRY: TimerId = TimerId(1);

/// What the log carries.
#[derive(Clone, Debug)]
enum BankCmd {
    /// Move `amount` from one account to another, if the sender can pay.
    Transfer { from: u8, to: u8, amount: u64 },
    /// Read the sum of all balances.
    Audit,
}

impl Command for BankCmd {
    fn digest(&self, d: &mut Digest) {
        match *self {
            BankCmd::Transfer { from, to, amount } => {
                d.write_u64(1);
                d.write_u64(from as u64);
                d.write_u64(to as u64);
                d.write_u64(amount);
            }
            BankCmd::Audit => d.write_u64(2),
        }
    }
    fn is_read_only(&self) -> bool {
        matches!(self, BankCmd::Audit)
    }
}

/// What a client gets back.
#[derive(Clone, Debug, PartialEq)]
enum BankOutput {
    /// Whether the transfer happened (false: insufficient funds).
    Moved(bool),
    /// The audited total.
    Total(u64),
}

impl CommandOutput for BankOutput {
    fn digest(&self, d: &mut Digest) {
        match *self {
            BankOutput::Moved(ok) => d.write_u64(ok as u64),
            BankOutput::Total(t) => d.write_u64(10 + t),
        }
    }
    fn encode(&self, w: &mut ByteWriter) {
        match *self {
            BankOutput::Moved(ok) => {
                w.u8(0);
                w.u8(ok as u8);
            }
            BankOutput::Total(t) => {
                w.u8(1);
                w.u64(t);
            }
        }
    }
    fn decode(r: &mut ByteReader<'_>) -> Result<Self, String> {
        match r.u8()? {
            0 => Ok(BankOutput::Moved(r.u8()? != 0)),
            1 => Ok(BankOutput::Total(r.u64()?)),
            t => Err(format!("unknown bank output tag {t}")),
        }
    }
}

/// The replicated state: balances, and whether this copy has the bug.
#[derive(Debug)]
struct Bank {
    balances: [u64; ACCOUNTS],
    leaky: bool,
}

impl Default for Bank {
    fn default() -> Self {
        Bank {
            balances: [100; ACCOUNTS],
            leaky: false,
        }
    }
}

impl Bank {
    fn total(&self) -> u64 {
        self.balances.iter().sum()
    }
}

impl StateMachine for Bank {
    type Command = BankCmd;
    type Output = BankOutput;

    fn apply(&mut self, cmd: &BankCmd) -> BankOutput {
        match *cmd {
            BankCmd::Transfer { from, to, amount } => {
                let (from, to) = (from as usize, to as usize);
                if self.leaky {
                    self.balances[to] += amount;
                    if self.balances[from] < amount {
                        return BankOutput::Moved(false);
                    }
                    self.balances[from] -= amount;
                    return BankOutput::Moved(true);
                }
                if self.balances[from] < amount {
                    return BankOutput::Moved(false);
                }
                self.balances[from] -= amount;
                self.balances[to] += amount;
                BankOutput::Moved(true)
            }
            BankCmd::Audit => BankOutput::Total(self.total()),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(8 * ACCOUNTS);
        for &b in &self.balances {
            w.u64(b);
        }
        w.into_inner()
    }

    fn restore(bytes: &[u8]) -> Result<Self, String> {
        let mut r = ByteReader::new(bytes);
        let mut balances = [0; ACCOUNTS];
        for b in &mut balances {
            *b = r.u64()?;
        }
        r.finish()?;
        Ok(Bank {
            balances,
            leaky: false,
        })
    }

    /// The bug is a property of this process's code, not of the replicated
    /// state: a restored copy keeps it.
    fn hand_over(&self, restored: &mut Self) {
        restored.leaky = self.leaky;
    }
}

type BankMsg = Msg<BankCmd, BankOutput>;
type BankRecord = Record<BankCmd>;

/// A closed-loop client: one request at a time, retried (same sequence
/// number, so it is applied at most once) after 100 ms without an answer:
/// to the leader a server named meanwhile, else to the next server.
#[derive(Debug)]
struct Client {
    me: NodeId,
    seq: u64,
    target: NodeId,
    pending: Option<BankCmd>,
    /// A server named the leader since the last send: the retry goes there.
    redirected: bool,
    done: u64,
    bad_audits: Vec<u64>,
}

impl Client {
    fn next_command(&mut self, ctx: &mut Context<'_, BankMsg, BankRecord>) -> BankCmd {
        if self.seq % 4 == 0 {
            return BankCmd::Audit;
        }
        let rng = ctx.rng();
        let from = rng.index(ACCOUNTS) as u8;
        let to = ((from as usize + 1 + rng.index(ACCOUNTS - 1)) % ACCOUNTS) as u8;
        let amount = rng.range_inclusive(1, 60);
        BankCmd::Transfer { from, to, amount }
    }

    fn send(&mut self, ctx: &mut Context<'_, BankMsg, BankRecord>) {
        let cmd = self.pending.clone().expect("a request is pending");
        self.redirected = false;
        ctx.send(
            self.target,
            Msg::ClientRequest(ClientRequest {
                client: self.me,
                seq: self.seq,
                cmd,
            }),
        );
        ctx.set_timer(RETRY, SimDuration::from_millis(100));
    }

    fn start_next(&mut self, ctx: &mut Context<'_, BankMsg, BankRecord>) {
        self.seq += 1;
        self.pending = Some(self.next_command(ctx));
        self.send(ctx);
    }
}

/// Servers and clients share one world, so one process type holds both.
#[derive(Debug)]
enum BankNode {
    Server(Box<RaftNode<Bank>>),
    Client(Box<Client>),
}

impl Process for BankNode {
    type Msg = BankMsg;
    type Record = BankRecord;

    fn on_start(&mut self, ctx: &mut Context<'_, BankMsg, BankRecord>) {
        match self {
            BankNode::Server(s) => s.on_start(ctx),
            BankNode::Client(c) => c.start_next(ctx),
        }
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<'_, BankMsg, BankRecord>,
        from: NodeId,
        msg: BankMsg,
    ) {
        match self {
            BankNode::Server(s) => s.on_message(ctx, from, msg),
            BankNode::Client(c) => {
                let Msg::ClientResponse(ClientResponse { seq, result }) = msg else {
                    return;
                };
                if seq != c.seq || c.pending.is_none() {
                    return; // an answer to an earlier try of a finished request
                }
                match result {
                    ClientResult::NotLeader { leader_hint } => {
                        // Only retarget; the retry timer resends with a delay.
                        if let Some(leader) = leader_hint {
                            c.target = leader;
                            c.redirected = true;
                        }
                    }
                    ClientResult::Ok(out) => {
                        if let BankOutput::Total(t) = out {
                            if t != TOTAL {
                                c.bad_audits.push(t);
                            }
                        }
                        c.done += 1;
                        ctx.cancel_timer(RETRY);
                        c.start_next(ctx);
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, BankMsg, BankRecord>, id: TimerId) {
        match self {
            BankNode::Server(s) => s.on_timer(ctx, id),
            BankNode::Client(c) => {
                // No answer and no redirect: that server may be down or cut
                // off, so try the next one.
                if !c.redirected {
                    c.target = NodeId((c.target.0 + 1) % SERVERS);
                }
                c.send(ctx);
            }
        }
    }

    fn role(&self) -> Role {
        match self {
            BankNode::Server(s) => s.role(),
            BankNode::Client(_) => Role::Other,
        }
    }

    fn term(&self) -> u64 {
        match self {
            BankNode::Server(s) => s.term(),
            BankNode::Client(_) => 0,
        }
    }
}

/// The conservation checker: after every event, every live server's
/// applied state holds exactly `TOTAL`.
#[derive(Default)]
struct MoneyIsConserved {
    violation: Option<String>,
}

impl Observer<BankNode> for MoneyIsConserved {
    fn after_event(&mut self, world: &World<BankNode>, ev: &Dispatched) {
        if self.violation.is_some() {
            return;
        }
        let Some(id) = ev.node.filter(|id| id.0 < SERVERS) else {
            return;
        };
        if let Some(BankNode::Server(s)) = world.node(id) {
            let total = s.state_machine().total();
            if total != TOTAL {
                self.violation = Some(format!(
                    "at {:.3} ms server {} holds {total} in total, not {TOTAL}",
                    ev.time.0 as f64 / 1000.0,
                    id.0
                ));
            }
        }
    }
    fn stop_requested(&self) -> bool {
        self.violation.is_some()
    }
}

/// Five servers, three clients; 1-5 ms links with 0.5 % loss; the leader
/// crashes every 800 ms (restarting 150 ms later) and is isolated for
/// 500 ms at 3 s.
fn config(seed: u64) -> WorldConfig {
    let ms = SimDuration::from_millis;
    let fault = |at_ms: u64, action, every| ScheduledFault {
        at: SimTime(at_ms * 1000),
        action,
        every,
        jitter: ms(100),
        stable: None,
    };
    WorldConfig {
        seed,
        duration: ms(6_000),
        cluster: SERVERS,
        net: NetConfig {
            default: LinkParams {
                latency: Dist::Uniform { min: 1.0, max: 5.0 },
                drop: 0.005,
                duplicate: 0.0,
            },
            reorder: false,
            links: Default::default(),
        },
        disk_sync: Dist::Uniform { min: 0.5, max: 2.0 },
        faults: vec![
            fault(
                1_000,
                FaultAction::Crash {
                    node: Target::Leader,
                    restart_after: Some(ms(150)),
                },
                Some(ms(800)),
            ),
            fault(
                3_000,
                FaultAction::Isolate {
                    node: Target::Leader,
                    duration: Some(ms(500)),
                },
                None,
            ),
        ],
        nemesis: None,
        start_jitter: ms(5),
        clocks: Default::default(),
    }
}

/// What one run saw.
struct Outcome {
    violation: Option<String>,
    completed: u64,
    bad_audits: Vec<u64>,
    trace_hash: String,
}

fn run(seed: u64, leaky: bool) -> Outcome {
    let raft = RaftConfig {
        nodes: SERVERS,
        snapshot_every: 50,
        ..RaftConfig::default()
    };
    let factory = move |id: NodeId, records: &[BankRecord]| {
        if id.0 >= SERVERS {
            return Ok(BankNode::Client(Box::new(Client {
                me: id,
                seq: 0,
                target: NodeId(id.0 % SERVERS),
                pending: None,
                redirected: false,
                done: 0,
                bad_audits: Vec::new(),
            })));
        }
        let initial = Bank {
            leaky,
            ..Bank::default()
        };
        RaftNode::recover_with(id, raft.clone(), initial, records)
            .map(|n| BankNode::Server(Box::new(n)))
            .map_err(|e| e.to_string())
    };
    let mut world = World::new(config(seed), SERVERS + CLIENTS, Box::new(factory))
        .expect("the configuration is valid");
    let mut checker = MoneyIsConserved::default();
    world.run(&mut checker);
    let mut completed = 0;
    let mut bad_audits = Vec::new();
    for c in SERVERS..SERVERS + CLIENTS {
        if let Some(BankNode::Client(c)) = world.node(NodeId(c)) {
            completed += c.done;
            bad_audits.extend(&c.bad_audits);
        }
    }
    Outcome {
        violation: checker.violation,
        completed,
        bad_audits,
        trace_hash: world.trace_hash(),
    }
}

fn main() {
    for leaky in [false, true] {
        let o = run(7, leaky);
        println!(
            "{}: {} requests completed, {} bad audits, conservation: {}",
            if leaky { "leaky bank" } else { "correct bank" },
            o.completed,
            o.bad_audits.len(),
            o.violation.as_deref().unwrap_or("held"),
        );
        println!("  trace hash {}", o.trace_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under leader crashes and an isolation the correct bank conserves
    /// money on every server and every audit sees it; the leaky bank is
    /// caught by the checker. Runs repeat exactly.
    #[test]
    fn conservation_holds_for_the_correct_bank_and_catches_the_leak() {
        for seed in 0..4 {
            let o = run(seed, false);
            assert_eq!(o.violation, None, "seed {seed}");
            assert!(o.bad_audits.is_empty(), "seed {seed}: {:?}", o.bad_audits);
            assert!(
                o.completed > 100,
                "seed {seed}: only {} requests",
                o.completed
            );
            assert!(run(seed, true).violation.is_some(), "seed {seed}");
        }
        assert_eq!(run(1, false).trace_hash, run(1, false).trace_hash);
    }

    #[test]
    fn main_runs() {
        main();
    }
}

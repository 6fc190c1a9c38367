//! Hardening: resolution and bounds of every time field, safe names, and
//! the preconditions the protocol configs assert when a run builds them.

use super::Problems;
use crate::scenario::types::*;

/// Virtual time resolution: 1 µs. A positive time below it would round to
/// 0 µs (a zero-time loop), so it is refused.
pub const TIME_RESOLUTION_MS: f64 = 0.001;

/// Upper bound of every time field (`*_ms`), in ms: 7 simulated days. Far
/// above any useful run, far below where µs arithmetic could overflow.
pub const MAX_TIME_MS: f64 = 7.0 * 24.0 * 3600.0 * 1000.0;

/// Upper bound of every rate (`*_per_s`): one million per second.
pub const MAX_RATE_PER_S: f64 = 1e6;

/// Longest scenario name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// True for a character allowed in a scenario name: ASCII letters, digits,
/// `_`, `-`, `.`, `+`. The name becomes a folder name and is printed on
/// terminals, so nothing that a shell, a file system or a terminal treats
/// specially (no space, NUL, newline, escape, slash).
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+')
}

pub(super) fn hardening(p: &mut Problems, s: &ScenarioSpec) {
    name(p, &s.name);
    for text in s.workflow.iter().flat_map(|w| {
        w.agents
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("workflow.agents[{i}].name"), &a.name))
            .chain(
                w.stages
                    .iter()
                    .enumerate()
                    .map(|(i, st)| (format!("workflow.stages[{i}].id"), &st.id)),
            )
    }) {
        printable(p, &text.0, text.1);
    }
    if let Ok(v) = serde_json::to_value(s) {
        times(p, &v, "", false);
    }
    // Only a scenario that passed every other check is built: the messages
    // above are more precise, and building assumes them.
    if p.0.is_empty() {
        build_preconditions(p, s);
    }
}

fn name(p: &mut Problems, name: &str) {
    if name.len() > MAX_NAME_BYTES {
        p.add(
            "name",
            format!(
                "is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
                name.len()
            ),
        );
    }
    if let Some(c) = name.chars().find(|&c| !is_name_char(c)) {
        p.add(
            "name",
            format!(
                "contains {:?}; a name may use only ASCII letters, digits and `_` `-` `.` `+` (it becomes a folder name)",
                c
            ),
        );
    }
}

/// Names printed in reports and on terminals: no control characters.
fn printable(p: &mut Problems, path: &str, text: &str) {
    if text.len() > 256 {
        p.add(path, "is longer than 256 bytes");
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        p.add(
            path,
            format!("contains the control character {c:?}; use printable text"),
        );
    }
}

/// Check every number under a key that names milliseconds (`*_ms`,
/// `*_ms_*`, and the numbers of a distribution or pair given in ms) for
/// the 1 µs resolution and the [`MAX_TIME_MS`] bound, and every `*_per_s`
/// rate for [`MAX_RATE_PER_S`]. Walking the serialized spec covers every
/// time field, including ones added later, by the naming rule (units last).
fn times(p: &mut Problems, v: &serde_json::Value, path: &str, in_ms: bool) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                // A distribution's shape parameters have no unit.
                let ms = k.ends_with("_ms")
                    || k.contains("_ms_")
                    || (in_ms && !matches!(k.as_str(), "sigma" | "shape"));
                if k.ends_with("_per_s") {
                    if let Some(r) = child.as_f64() {
                        if r > MAX_RATE_PER_S {
                            p.add(
                                here.clone(),
                                format!("{r} per second is above the limit of {MAX_RATE_PER_S}"),
                            );
                        }
                    }
                }
                times(p, child, &here, ms);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                times(p, child, &format!("{path}[{i}]"), in_ms);
            }
        }
        Value::Number(n) if in_ms => {
            let t = n.as_f64().unwrap_or(f64::NAN);
            if t > 0.0 && t < TIME_RESOLUTION_MS {
                p.add(
                    path,
                    format!(
                        "{t} ms is below the 1 µs time resolution (it would round to 0 µs); use 0 or at least {TIME_RESOLUTION_MS}"
                    ),
                );
            } else if t > MAX_TIME_MS {
                p.add(
                    path,
                    format!("{t} ms is above the limit of {MAX_TIME_MS} ms (7 days)"),
                );
            }
        }
        _ => {}
    }
}

/// Build the Raft and client configurations the run will build and check
/// them with the very functions whose preconditions their constructors
/// assert ([`crate::raft::RaftConfig::validate`],
/// [`crate::kv::client::ClientConfig::check`]): validation and build time
/// cannot disagree.
fn build_preconditions(p: &mut Problems, s: &ScenarioSpec) {
    if s.cluster.process != ProcessKind::Raft {
        return;
    }
    let raft = s.cluster.raft.clone().unwrap_or_default();
    let cfg = crate::runner::raft::raft_config(s.cluster.nodes, &raft, s.bug.as_deref());
    if let Err(e) = cfg.validate() {
        let path = if e.contains("heartbeat") {
            "cluster.raft.heartbeat_ms"
        } else {
            "cluster.raft"
        };
        p.add(path, format!("{e} (after rounding to whole µs)"));
    }
    if let Some(w) = &s.workload {
        let end =
            crate::time::SimTime::ZERO + crate::time::SimDuration::from_millis_f64(s.duration_ms);
        let c = crate::runner::raft::client_config(s.cluster.nodes, w, end);
        if let Err(e) = c.check() {
            p.add("workload", e);
        }
    }
}

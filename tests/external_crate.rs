//! A user's crate that depends on agentsim by path builds and runs the
//! shipped examples, copied verbatim, with `default-features = false`
//! (no plotting, no CLI): the library surface the examples use is public,
//! and the feature split leaves the library whole.
//!
//! Ignored by default (it builds a second crate, about a minute on two
//! cores); `.ci/run` runs it with `--ignored`.

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "builds a separate crate; run by .ci/run"]
fn examples_build_and_run_in_a_crate_that_depends_on_agentsim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    let krate = dir.path();
    std::fs::create_dir_all(krate.join("src/bin")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"uses-agentsim\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nagentsim = {{ path = {:?}, default-features = false }}\n",
            root.display().to_string()
        ),
    )
    .unwrap();
    // Our lock file pins the same versions CI tested, so the build needs no
    // network (`--offline`).
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let examples = ["gossip_counter", "raft_bank", "sweep_from_code"];
    for name in examples {
        std::fs::copy(
            root.join("examples").join(format!("{name}.rs")),
            krate.join("src/bin").join(format!("{name}.rs")),
        )
        .unwrap();
    }
    // A target directory of its own that survives between runs, so a
    // re-run only rebuilds what changed.
    let target = root.join("target/external-crate");
    let cargo = env!("CARGO");
    let build = Command::new(cargo)
        .args(["build", "--release", "--offline", "--quiet"])
        .current_dir(krate)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(build.success(), "the copied examples do not build");
    for name in examples {
        let out = Command::new(target.join("release").join(name))
            .output()
            .expect("example runs");
        assert!(
            out.status.success(),
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "{name} printed nothing");
    }
}

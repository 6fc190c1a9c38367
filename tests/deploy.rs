//! The deployment recipes are real: the Kubernetes manifests parse as
//! YAML with the fields an Indexed Job sweep needs, the Dockerfile has its
//! two stages, `docs/sweeps-at-scale.md` shows every file exactly as it
//! is, and each sweep command line in a recipe runs through the real CLI
//! (on two seeds, with the scheduler's index variable set).

use std::path::Path;
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    let docs = YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(docs.len(), 1, "{path}: one document");
    docs.into_iter().next().expect("one document")
}

fn s<'a>(y: &'a Yaml, path: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{path}: not a string: {y:?}"))
}

fn i(y: &Yaml, path: &str) -> i64 {
    y.as_i64()
        .unwrap_or_else(|| panic!("{path}: not an integer: {y:?}"))
}

/// The one container of a Job's pod template, and the template spec.
fn pod(job: &Yaml) -> (&Yaml, &Yaml) {
    let spec = &job["spec"]["template"]["spec"];
    let containers = spec["containers"].as_vec().expect("containers list");
    assert_eq!(containers.len(), 1);
    (spec, &containers[0])
}

/// The shell command a container runs (`sh -c ARG`).
fn shell(container: &Yaml) -> String {
    let cmd: Vec<&str> = container["command"]
        .as_vec()
        .expect("command list")
        .iter()
        .map(|c| s(c, "command"))
        .collect();
    assert_eq!(cmd, ["sh", "-c"]);
    let args = container["args"].as_vec().expect("args list");
    assert_eq!(args.len(), 1);
    s(&args[0], "args").to_string()
}

/// Every volume the command writes under is mounted from the claim.
fn mounts_results(spec: &Yaml, container: &Yaml) {
    let mount = &container["volumeMounts"][0];
    assert_eq!(s(&mount["mountPath"], "mountPath"), "/results");
    let vol = &spec["volumes"][0];
    assert_eq!(
        s(&vol["name"], "volume name"),
        s(&mount["name"], "mount name")
    );
    assert_eq!(
        s(&vol["persistentVolumeClaim"]["claimName"], "claimName"),
        "agentsim-results"
    );
    assert_eq!(i(&spec["securityContext"]["fsGroup"], "fsGroup"), 10001);
}

/// An Indexed Job with one shard per index, retried per index, pods
/// never restarted in place (what `backoffLimitPerIndex` requires).
#[test]
fn sweep_job_is_an_indexed_job_with_one_shard_per_index() {
    let job = yaml("deploy/kubernetes/sweep-job.yaml");
    assert_eq!(s(&job["apiVersion"], "apiVersion"), "batch/v1");
    assert_eq!(s(&job["kind"], "kind"), "Job");
    let spec = &job["spec"];
    assert_eq!(s(&spec["completionMode"], "completionMode"), "Indexed");
    let completions = i(&spec["completions"], "completions");
    assert!(completions >= 1);
    assert!(i(&spec["parallelism"], "parallelism") <= completions);
    assert!(i(&spec["backoffLimitPerIndex"], "backoffLimitPerIndex") >= 1);
    let (pod_spec, c) = pod(&job);
    assert_eq!(s(&pod_spec["restartPolicy"], "restartPolicy"), "Never");
    mounts_results(pod_spec, c);
    let cmd = shell(c);
    assert!(cmd.contains("--shard env"), "{cmd}");
    assert!(cmd.contains(&format!("--shards {completions}")), "{cmd}");
    assert!(cmd.contains("--resume"), "{cmd}");
    assert!(
        cmd.contains("/results/shard-$JOB_COMPLETION_INDEX"),
        "{cmd}"
    );
    assert!(cmd.contains("[ $code -le 1 ] || exit $code"), "{cmd}");
    assert_eq!(s(&c["image"], "image"), image_tag());
}

#[test]
fn merge_job_merges_every_shard_on_the_same_volume() {
    let job = yaml("deploy/kubernetes/merge-job.yaml");
    assert_eq!(s(&job["kind"], "kind"), "Job");
    let (pod_spec, c) = pod(&job);
    assert_eq!(s(&pod_spec["restartPolicy"], "restartPolicy"), "Never");
    mounts_results(pod_spec, c);
    assert!(shell(c).starts_with("agentsim merge /results/shard-* --out /results/merged"));
    assert_eq!(s(&c["image"], "image"), image_tag());
}

/// The tag the Dockerfile's build comment gives, which the manifests use.
fn image_tag() -> String {
    let docker = read("Dockerfile");
    let line = docker
        .lines()
        .find(|l| l.contains("docker build -t"))
        .expect("Dockerfile names its build command");
    line.split_whitespace()
        .skip_while(|w| *w != "-t")
        .nth(1)
        .expect("a tag after -t")
        .to_string()
}

/// Two stages: the build on the Rust image of the crate's rust-version
/// with the lock file, then the binary alone on a slim base, unprivileged.
#[test]
fn dockerfile_builds_locked_on_the_crates_toolchain_and_ships_the_binary_alone() {
    let docker = read("Dockerfile");
    let froms: Vec<&str> = docker.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    let cargo = read("Cargo.toml");
    let rust_version = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version")
        .trim_matches('"');
    assert!(
        froms[0].starts_with(&format!("FROM rust:{rust_version}-")),
        "build stage {} vs rust-version {rust_version}",
        froms[0]
    );
    assert!(docker.contains("cargo build --release --locked --bin agentsim"));
    assert!(
        docker.contains("COPY --from=build /src/target/release/agentsim /usr/local/bin/agentsim")
    );
    assert!(docker.contains("USER 10001"));
    let ignore = read(".dockerignore");
    assert!(
        ignore.lines().any(|l| l == "target"),
        "the build context skips target/"
    );
}

/// `docs/sweeps-at-scale.md` shows each recipe file verbatim.
#[test]
fn docs_show_every_recipe_file_as_it_is() {
    let docs = read("docs/sweeps-at-scale.md");
    for f in [
        "deploy/kubernetes/sweep-job.yaml",
        "deploy/kubernetes/merge-job.yaml",
        "deploy/slurm/sweep.sbatch",
        "deploy/slurm/submit.sh",
    ] {
        assert!(
            docs.contains(&read(f)),
            "docs/sweeps-at-scale.md does not show {f} as it is"
        );
    }
}

/// Run a recipe's `agentsim sweep ...` line through the real binary on
/// two seeds, paths moved into a temp folder, with `vars` set as the
/// scheduler would; it must run (exit 0) and write its shard folder.
fn run_recipe(line: &str, vars: &[(&str, &str)], shard_dir: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().to_str().expect("utf-8 path");
    let root = env!("CARGO_MANIFEST_DIR");
    let line = line
        .replace("/scenarios/", &format!("{root}/scenarios/"))
        .replace("scenarios/sweep/", &format!("{root}/scenarios/sweep/"))
        .replace(&format!("{root}/{root}"), root)
        .replace("/results/", &format!("{out}/"))
        .replace("results/", &format!("{out}/"))
        .replace("--seeds 0..1000000", "--seeds 0..32");
    let mut words: Vec<String> = Vec::new();
    for w in line.split_whitespace() {
        let mut w = w.trim_matches('"').to_string();
        for (k, v) in vars {
            w = w.replace(&format!("${k}"), v);
        }
        words.push(w);
    }
    assert_eq!(words[0], "agentsim", "{line}");
    let status = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(&words[1..])
        .envs(vars.iter().copied())
        .status()
        .expect("agentsim runs");
    assert_eq!(status.code(), Some(0), "{words:?}");
    let shard = Path::new(out).join(shard_dir);
    assert!(
        shard.join("sweep.json").is_file(),
        "{} not written",
        shard.display()
    );
}

#[test]
fn kubernetes_sweep_command_runs_through_the_cli() {
    let job = yaml("deploy/kubernetes/sweep-job.yaml");
    let cmd = shell(pod(&job).1);
    let line = cmd.split(';').next().expect("a sweep command");
    run_recipe(line, &[("JOB_COMPLETION_INDEX", "3")], "shard-3");
}

#[test]
fn slurm_sweep_command_runs_through_the_cli() {
    let script = read("deploy/slurm/sweep.sbatch");
    let line: String = script
        .lines()
        .skip_while(|l| !l.starts_with("agentsim sweep"))
        .take_while(|l| !l.starts_with("code="))
        .map(|l| l.trim_end_matches('\\'))
        .collect::<Vec<_>>()
        .join(" ");
    run_recipe(
        &line,
        &[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "16"),
            ("SLURM_CPUS_PER_TASK", "2"),
        ],
        "shard-5",
    );
}

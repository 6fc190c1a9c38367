# agentsim in a container, for sweeps on Kubernetes or any container runtime.
# Build:  docker build -t agentsim:0.1.0 .
# Run:    docker run --rm -v "$PWD/results:/results" agentsim:0.1.0 \
#           sweep /scenarios/sweep/nemesis-10s.json --seeds 0..1000 --out /results/s

# Stage 1: build the release binary with the toolchain the crate asks for
# (rust-version in Cargo.toml) and the committed Cargo.lock.
FROM rust:1.85-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin agentsim

# Stage 2: only the binary and the shipped scenarios on a slim base.
FROM debian:bookworm-slim
COPY --from=build /src/target/release/agentsim /usr/local/bin/agentsim
COPY scenarios /scenarios
# An unprivileged user; mount /results writable for it (fsGroup 10001 on
# Kubernetes, see deploy/kubernetes/sweep-job.yaml).
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin agentsim \
    && mkdir /results && chown 10001 /results
USER 10001
WORKDIR /results
ENTRYPOINT ["agentsim"]

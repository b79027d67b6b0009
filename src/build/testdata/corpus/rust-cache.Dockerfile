# syntax=docker/dockerfile:1
FROM rust:1.77 AS chef
WORKDIR /app
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json
FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/app/target,uid=0,gid=0,mode=0755 \
    cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --bin app
FROM gcr.io/distroless/cc-debian12 AS runtime
COPY --from=builder /app/target/release/app /usr/local/bin/
COPY --from=0 /app /app-src
ENTRYPOINT ["/usr/local/bin/app"]

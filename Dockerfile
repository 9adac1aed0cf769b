# VirLife: multi-stage build. Dependencies are compiled in their own cached
# layer (cargo-chef); builder and runtime share one Debian release (trixie,
# Debian 13) so the binary's glibc matches; the runtime is distroless
# (glibc, CA certificates, no shell), runs as non-root, and checks its own
# health with the binary (no curl in the image).

FROM rust:1.95-trixie AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# The build flags (x86-64-v2) before the dependencies, so both builds share them.
COPY .cargo .cargo
# Only this layer rebuilds when dependencies change.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin virlife

FROM gcr.io/distroless/cc-debian13:nonroot AS runtime
WORKDIR /app
COPY --from=builder /app/target/release/virlife /app/virlife
# The profiles are compiled into the binary; the files document them in the image.
COPY config /app/config
ENV ENVIRONMENT=production \
    PORT=8000 \
    LOG_FORMAT=json
EXPOSE 8000
USER nonroot
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 CMD ["/app/virlife", "healthcheck"]
ENTRYPOINT ["/app/virlife"]
CMD ["serve"]

# cloudreve-autoselect: build on Debian trixie, run on distroless (trixie = Debian 13), non-root.
#
# Builds with BuildKit (`docker build`, `docker compose build`) and with buildah/podman
# (`buildah bud --format docker`: the docker format keeps the HEALTHCHECK, which OCI images
# drop); ci/docker-real builds it unchanged with Debian 12's buildah. There is no `# syntax=`
# line: it would make BuildKit pull a frontend image first, which fails offline; `RUN --mount`
# is built into current BuildKit. Docker's legacy builder (no BuildKit) cannot build it.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-trixie AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rust-toolchain.toml rules.example.toml ./
COPY src ./src
# Cargo.toml names these targets; cargo wants their files even to build the binary alone.
COPY benches ./benches
COPY examples ./examples
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
 && install -D -m 0755 target/release/cloudreve-autoselect /out/cloudreve-autoselect \
 && install -d -o 65532 -g 65532 -m 0700 /out/state

FROM gcr.io/distroless/cc-debian13:nonroot
COPY --from=build /out/cloudreve-autoselect /usr/local/bin/cloudreve-autoselect
# A named volume copies this directory's owner, so the non-root user can write its state.
COPY --from=build --chown=65532:65532 /out/state /var/lib/cloudreve-autoselect
# The password comes from the Docker secret "password" (/run/secrets/password) or from
# CLOUDREVE_AUTOSELECT_PASSWORD; the rules from the read-only /config mount; state on a volume.
ENV CREDENTIALS_DIRECTORY=/run/secrets \
    CLOUDREVE_AUTOSELECT_CONFIG=/config/rules.toml \
    STATE_DIRECTORY=/var/lib/cloudreve-autoselect \
    RUST_LOG=info
# Metrics (optional): [metrics] listen = "0.0.0.0:9464" in rules.toml; publish it to the
# host's loopback only, e.g. -p 127.0.0.1:9464:9464.
EXPOSE 9464
USER 65532:65532
VOLUME ["/var/lib/cloudreve-autoselect"]
HEALTHCHECK --interval=60s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/cloudreve-autoselect", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/cloudreve-autoselect"]
CMD ["--config", "/config/rules.toml", "run"]

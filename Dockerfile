# cloudreve-autoselect: build on Debian trixie, run on distroless (trixie = Debian 13), non-root,
# for linux/amd64 and linux/arm64.
#
# Two architectures from one file, Docker's way: the build stage runs on the build machine's
# own architecture ($BUILDPLATFORM) and cross-compiles for the image's ($TARGETARCH), so an
# arm64 image builds at native speed on an amd64 machine (no emulated compiler); the runtime
# stage is distroless for $TARGETARCH. `docker buildx build --platform linux/amd64,linux/arm64`
# builds both under one name; ci/docker-real builds each with buildah (`--platform`) and joins
# them in a manifest list.
#
# Builds with BuildKit (`docker build`, `docker compose build`) and with buildah/podman
# (`buildah bud --format docker`: the docker format keeps the HEALTHCHECK, which OCI images
# drop); ci/docker-real builds it unchanged with Debian 12's buildah. There is no `# syntax=`
# line: it would make BuildKit pull a frontend image first, which fails offline; `RUN --mount`
# is built into current BuildKit. Docker's legacy builder (no BuildKit) cannot build it.
ARG RUST_VERSION=1.95

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-slim-trixie AS build
# The binary carries its dependency list (a .dep-v0 section) for `cargo audit bin` and image
# scanners. Before any ARG and COPY, so both architectures' builds share this layer.
ARG CARGO_AUDITABLE_VERSION=0.7.7
RUN cargo install --locked cargo-auditable --version "${CARGO_AUDITABLE_VERSION}"
# The linkers and C compilers (ring's C parts) for both targets; Debian names them the same on
# either build machine, natively or as a cross package.
ENV CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
    CC_x86_64_unknown_linux_gnu=x86_64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
ARG TARGETARCH
# The target's Rust triple and, when it is not the build machine's architecture, the cross
# gcc, the target's C library and Rust's standard library for it. Unpinned (DL3008): Debian
# trixie's current packages, as the base image's own are.
# hadolint ignore=DL3008
RUN set -eu; \
    case "${TARGETARCH}" in \
      amd64) triple=x86_64-unknown-linux-gnu gcc=gcc-x86-64-linux-gnu ;; \
      arm64) triple=aarch64-unknown-linux-gnu gcc=gcc-aarch64-linux-gnu ;; \
      *) echo "unsupported TARGETARCH '${TARGETARCH}': amd64 or arm64" >&2; exit 1 ;; \
    esac; \
    echo "$triple" > /rust-target; \
    if [ "${TARGETARCH}" != "$(dpkg --print-architecture)" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends "$gcc" "libc6-dev-${TARGETARCH}-cross"; \
      rm -rf /var/lib/apt/lists/*; \
      rustup target add "$triple"; \
    fi
WORKDIR /src
COPY Cargo.toml Cargo.lock rust-toolchain.toml rules.example.toml ./
COPY src ./src
# The emulated Cloudreve, a crate of the workspace: cargo reads every member's manifest even to
# build one binary, and the default `demo` feature compiles it in.
COPY emulator ./emulator
# Cargo.toml names these targets; cargo wants their files even to build the binary alone.
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    triple="$(cat /rust-target)" \
 && cargo auditable build --release --locked --target "$triple" -p cloudreve-autoselect --bin cloudreve-autoselect \
 && install -D -m 0755 "target/$triple/release/cloudreve-autoselect" /out/cloudreve-autoselect \
 && install -d -o 65532 -g 65532 -m 0700 /out/state

# $TARGETPLATFORM is the default; written out since Debian 12's buildah (1.28) otherwise keeps
# the build stage's platform for this stage.
# hadolint ignore=DL3065
FROM --platform=$TARGETPLATFORM gcr.io/distroless/cc-debian13:nonroot
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

# syntax=docker/dockerfile:1
#
# warden's container image: warden as PID 1 (it reaps orphans itself, no tini), running
# as an unprivileged user, with python3 for the example programs.
#
#   docker build -t warden .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/warden:TAG --push .
#
# Each platform is built natively for that platform (under QEMU on a foreign host), so
# there is no cross toolchain to maintain. See docs/docker.md.

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------
# Build: `cargo build --release --locked`, the project's release build (the lock
# file is used as committed).
# ---------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit); the binary is
# copied out of the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
    && install -D -m 0755 target/release/warden /out/warden

# ---------------------------------------------------------------------------------
# Runtime
# ---------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="warden" \
      org.opencontainers.image.description="One binary that keeps a personal AI employee's programs running 24/7: supervision, logs, probes, metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/debian:${DEBIAN_RELEASE}-slim"

# python3 runs the example programs (and most of an AI employee's own); ca-certificates
# lets programs and warden reach TLS services. Versions are not pinned: a Debian
# stable point release removes the superseded versions from the archive, so a pin
# would break the build instead of picking up security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 warden \
    && useradd --system --uid 10001 --gid warden --home-dir /var/lib/warden \
       --no-create-home --shell /usr/sbin/nologin warden \
    && install -d -o warden -g warden -m 0750 \
       /var/lib/warden /var/lib/warden/data /var/lib/warden/logs

COPY --from=build /out/warden /usr/local/bin/warden
COPY deploy/warden.toml /etc/warden/warden.toml
COPY examples/programs/ /usr/share/warden/examples/

# The configuration (override with -v ./my.toml:/etc/warden/warden.toml:ro); it listens
# on 0.0.0.0:8080. LANG is passed on to the programs, so Python speaks UTF-8.
ENV WARDEN_CONFIG=/etc/warden/warden.toml \
    LANG=C.UTF-8

# Data and program logs (deploy/warden.toml: data_dir and logs.dir). A new named
# volume takes the image's ownership (UID 10001).
VOLUME ["/var/lib/warden"]
WORKDIR /var/lib/warden
EXPOSE 8080

# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

# /live through warden's own client (no curl in the image); `warden probe` gives up
# after 5 s, so the timeout leaves it room.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["warden", "probe", "live"]

# SIGTERM: programs stop in reverse dependency order within shutdown_timeout (30 s);
# give `docker stop` more than that (docker stop -t 40, compose stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/warden"]
CMD ["run"]

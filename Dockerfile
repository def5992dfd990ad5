# sluice container image.
#
#   docker build -t sluice:dev .                     # any OCI builder: docker, buildah, podman
#   bash scripts/build-image.sh                      # buildah, without a registry (see README)
#
# Build stage: the Debian 12 packages of scripts/setup.sh (its build-only part, so the list lives
# in one place), a Release build of the `sluice` target only, stripped. Runtime stage: the same
# Debian release with only the shared libraries the binary links, CA certificates and tzdata.

# Fully qualified, so that builders without unqualified-search registries (buildah, podman)
# resolve it as docker does; scripts/build-image.sh points it at a locally made base when no
# registry is reachable.
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
# ARG, not ENV: apt must not prompt here, but the setting has no business in the image.
ARG DEBIAN_FRONTEND=noninteractive
COPY scripts/setup.sh /tmp/setup.sh
RUN bash /tmp/setup.sh --build-only && rm -rf /var/lib/apt/lists/*
# Only what the sluice target is built from: edits to tests, charts or docs keep the layers above
# and this one cached.
WORKDIR /src
COPY CMakeLists.txt ./
COPY proto/ proto/
COPY agent/ agent/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSLUICE_TESTS=OFF -DSLUICE_BENCH=OFF -DSLUICE_FUZZ=OFF \
    && cmake --build /build --target sluice \
    && strip --strip-all /build/sluice

FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# The packages holding the libraries `readelf -d sluice` lists as NEEDED (dpkg -S): snappy,
# OpenSSL (https, digests), simdjson, RE2, abseil, libyaml,
# zlib and libbz2 (decompression), libmaxminddb (stage.geoip), libsystemd0 (loki.source.journal);
# libstdc++6, libgcc-s1 and libc6 are already in the base. ca-certificates: HTTPS to Loki and
# the kubelet. tzdata: stage.timestamp's `location` needs the IANA zones. git: import.git runs
# it (Alloy links go-git; Debian has no C/C++ git library that clones over every transport).
# libcurl4 is loaded with dlopen only when a proxy or a unix socket needs it, so ldd does not see
# it: the check below names it. The ldd check fails the build, not the first run, if a library
# is ever missing from this list.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
         ca-certificates tzdata git \
         libsnappy1v5 libcurl4 libssl3 libsimdjson14 libre2-9 libabsl20220623 libyaml-0-2 \
         zlib1g libbz2-1.0 libmaxminddb0 libsystemd0 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /var/lib/sluice
COPY --from=build /build/sluice /usr/bin/sluice
COPY config/kubernetes-pods.alloy /etc/sluice/config.alloy
RUN if ldd /usr/bin/sluice | grep 'not found'; then echo 'missing shared libraries' >&2; exit 1; fi \
    && ldconfig -p | grep -q 'libcurl\.so\.4 '

# Root: kubelet's pod log files are readable by root only. The Helm chart drops every capability.
USER 0
# Alloy's default HTTP port (/metrics, /-/ready, /-/healthy).
EXPOSE 12345
ENTRYPOINT ["sluice"]
# Listen on every interface (the default 127.0.0.1 would make the exposed port unreachable) and
# keep positions under /var/lib/sluice (mount a volume there to survive restarts) rather than in
# a data-sluice directory relative to /.
CMD ["run", "/etc/sluice/config.alloy", "--server.http.listen-addr=0.0.0.0:12345", "--storage.path=/var/lib/sluice"]

# Last, so that a new revision only changes this metadata, not the cached layers above.
ARG BASE_IMAGE
ARG VERSION=""
ARG REVISION=""
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="Log shipping agent for Kubernetes and Grafana Loki; runs Grafana Alloy log-shipping configurations" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# sluice container image: build stage with the same Debian packages as scripts/setup.sh, runtime
# stage with only the shared libraries sluice links and CA certificates.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libboost-dev libboost-system-dev libprotobuf-dev protobuf-compiler libsnappy-dev \
      libcurl4-openssl-dev libabsl-dev libre2-dev libsimdjson-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF \
      -DSLUICE_BENCH=OFF \
    && cmake --build /build --target sluice \
    && strip /build/sluice

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates libboost-system1.74.0 libprotobuf32 libsnappy1v5 libcurl4 \
      libabsl20220623 libre2-9 libsimdjson14 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/sluice /usr/bin/sluice
USER 0
ENTRYPOINT ["sluice"]
CMD ["tail", "/var/log/pods"]

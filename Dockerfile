# quantd runtime image: quantd, quantd-worker, quantd-engine and quantctl on
# Debian 12 with the CUDA-enabled LibTorch of the pinned torch wheel.
#
#   docker build -t quantd:dev .
#   docker build --build-arg TORCH_VERSION=2.11.0 -t quantd:dev .
#
# Stage 1 builds with the project's own bootstrap; stage 2 carries only the
# binaries, the torch/nvidia shared libraries they load and the Debian
# runtime libraries. (No Docker engine runs on the development machines, so
# this file is kept exact by review and by tests/deploy's parser check.)
ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
ARG TORCH_VERSION=2.11.0
ENV DEBIAN_FRONTEND=noninteractive PIP_BREAK_SYSTEM_PACKAGES=1
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      python3 python3-pip python3-venv git ca-certificates sudo && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# nvcc for the engine's CUDA kernels comes from the CUDA toolkit wheels that
# the torch wheel depends on.
RUN sed -i "s/^torch==.*/torch==${TORCH_VERSION}/" scripts/requirements.txt && \
    python3 -m pip install -q "cuda-toolkit[nvcc]==13.0.2" && \
    scripts/bootstrap && \
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DQUANTD_BUILD_TESTS=OFF -DQUANTD_BUILD_BENCH=OFF && \
    cmake --build build -j "$(nproc)" && \
    mkdir -p /out/bin /out/lib && \
    cp build/server/quantd build/worker/agent/quantd-worker \
       build/worker/engine/cli/quantd-engine build/client/quantctl /out/bin/ && \
    python3 -c "import torch, pathlib; print(pathlib.Path(torch.__file__).parent)" > /out/torch_dir

FROM ${DEBIAN_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive PIP_BREAK_SYSTEM_PACKAGES=1
ARG TORCH_VERSION=2.11.0
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libspdlog1.10 libfmt9 \
      libyaml-cpp0.7 libsqlite3-0 libpq5 libprometheus-cpp-pull1.0 \
      libprometheus-cpp-core1.0 libpcre2-8-0 libssl3 python3 python3-pip \
      ca-certificates && \
    python3 -m pip install -q --no-cache-dir "torch==${TORCH_VERSION}" && \
    rm -rf /var/lib/apt/lists/* /root/.cache && \
    useradd --system --uid 10001 --create-home --home-dir /var/lib/quantd quantd
COPY --from=build /out/bin/ /usr/local/bin/
USER quantd
WORKDIR /var/lib/quantd
EXPOSE 7070 9090 9091
# grpc.health.v1 through quantctl (no grpc_health_probe needed).
HEALTHCHECK --interval=15s --timeout=5s --retries=3 \
  CMD ["/usr/local/bin/quantctl", "health"]
ENTRYPOINT ["/usr/local/bin/quantd"]

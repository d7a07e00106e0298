# hotwrap as a FROM-scratch image holding one static binary, /hotwrap, and its licences in
# /usr/share/doc/hotwrap/.
#   docker build -t hotwrap .                              this machine's platform
#   docker build --platform linux/arm64 -t hotwrap .       another one (amd64 or arm64)
#   (with podman as the engine: add --network host)
# The build stage runs on the build machine's platform and cross-compiles for the target with
# Debian's cross toolchain: no emulation, so an arm64 image builds as fast as a native one.
# A release build names its version and commit (scripts/release.sh prints them):
#   docker build --build-arg HOTWRAP_VERSION=0.1.0 --build-arg HOTWRAP_REVISION=$(git rev-parse HEAD) \
#     --build-arg HOTWRAP_SOURCE=$(git remote get-url origin) .
# Use it in a function's image:
#   COPY --from=hotwrap /hotwrap /hotwrap
#   ENTRYPOINT ["/hotwrap"]
#   CMD ["your", "command"]

# BuildKit (docker build, docker buildx) sets BUILDPLATFORM; podman 4.3 (Debian 12) does not, so
# there the build names it: --build-arg BUILDPLATFORM=linux/amd64. Unset, the build stage runs on
# the target's platform (emulated, when that is another one).
ARG BUILDPLATFORM
FROM --platform=$BUILDPLATFORM debian:bookworm-slim AS build
# The target (from --platform); without one, this stage's own architecture. Kept in
# /etc/hotwrap-target for the steps below.
ARG TARGETARCH
RUN set -e; \
    buildarch=$(dpkg --print-architecture); \
    target=${TARGETARCH:-$buildarch}; \
    case "$target" in amd64|arm64) ;; \
      *) echo "hotwrap builds for linux/amd64 and linux/arm64, not $target" >&2; exit 1 ;; esac; \
    echo "$target" >/etc/hotwrap-target; \
    packages="build-essential cmake lld nlohmann-json3-dev node-llhttp file"; \
    if [ "$target" = "$buildarch" ]; then \
      packages="$packages libevent-dev"; \
    else \
      dpkg --add-architecture "$target"; \
      packages="$packages crossbuild-essential-$target libevent-dev:$target"; \
    fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The version is CMakeLists.txt's; a --build-arg that says otherwise stops the build. The commit
# comes from the build argument (the context has no .git): "unknown" without one.
ARG HOTWRAP_VERSION=
ARG HOTWRAP_REVISION=
RUN set -e; \
    target=$(cat /etc/hotwrap-target); \
    toolchain=; \
    if [ "$target" != "$(dpkg --print-architecture)" ]; then toolchain="-DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/linux-$target.cmake"; fi; \
    commit=$(printf '%s' "${HOTWRAP_REVISION:-unknown}" | cut -c1-12); \
    cmake -S . -B build $toolchain -DCMAKE_BUILD_TYPE=Release -DHOTWRAP_TESTS=OFF -DHOTWRAP_COMMIT="$commit"; \
    cmake --build build -j"$(nproc)" --target hotwrap; \
    version=$(sed -n 's/^project(hotwrap VERSION \([0-9][0-9.]*\) .*/\1/p' CMakeLists.txt); \
    if [ -n "$HOTWRAP_VERSION" ] && [ "$HOTWRAP_VERSION" != "$version" ]; then \
      echo "HOTWRAP_VERSION=$HOTWRAP_VERSION, but CMakeLists.txt says $version" >&2; exit 1; fi
# The final image has no libc and no loader: the binary must be fully static, and for the target.
RUN set -e; file build/hotwrap; \
    target=$(cat /etc/hotwrap-target); \
    if readelf -lW build/hotwrap | grep -q INTERP; then echo "hotwrap is not static: it has a program interpreter" >&2; exit 1; fi; \
    if readelf -dW build/hotwrap | grep -q NEEDED; then echo "hotwrap is not static: it needs shared libraries" >&2; exit 1; fi; \
    case "$target" in amd64) machine='Advanced Micro Devices X86-64' ;; arm64) machine=AArch64 ;; esac; \
    readelf -hW build/hotwrap | grep -q "Machine: *$machine\$" || { echo "hotwrap is not built for $target" >&2; exit 1; }; \
    if [ "$target" = "$(dpkg --print-architecture)" ]; then build/hotwrap --version; fi; \
    install -m 0755 build/hotwrap /hotwrap; \
    mkdir -p /doc/licenses; \
    install -m 0644 LICENSE NOTICE /doc/; \
    install -m 0644 licenses/* /doc/licenses/

FROM scratch
ARG HOTWRAP_VERSION=
ARG HOTWRAP_REVISION=
# Where the sources of this image are: the repository it is released from.
ARG HOTWRAP_SOURCE=
LABEL org.opencontainers.image.title="hotwrap" \
      org.opencontainers.image.description="Wraps a unix command as a hot serverless function (Fn, OpenFaaS, Knative, Cloud Run)" \
      org.opencontainers.image.version="$HOTWRAP_VERSION" \
      org.opencontainers.image.revision="$HOTWRAP_REVISION" \
      org.opencontainers.image.source="$HOTWRAP_SOURCE" \
      org.opencontainers.image.licenses="Apache-2.0 AND LGPL-2.1-or-later AND GPL-3.0-or-later WITH GCC-exception-3.1 AND BSD-3-Clause AND MIT"
# 0755 and owned by root: any uid (Fn runs 1000:1000 on a read-only root) may execute it.
COPY --from=build /hotwrap /hotwrap
# LICENSE, NOTICE (also `hotwrap --licenses`) and the full licence texts.
COPY --from=build /doc/ /usr/share/doc/hotwrap/
ENTRYPOINT ["/hotwrap"]

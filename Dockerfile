# hotwrap as a FROM-scratch image holding one static binary, /hotwrap.
#   docker build -t hotwrap .            (with podman as the engine: add --network host)
# Use it in a function's image:
#   COPY --from=hotwrap /hotwrap /hotwrap
#   ENTRYPOINT ["/hotwrap"]
#   CMD ["your", "command"]

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake libevent-dev nlohmann-json3-dev doctest-dev node-llhttp file \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHOTWRAP_TESTS=OFF \
 && cmake --build build -j"$(nproc)"
# The final image has no libc and no loader: the binary must be fully static.
RUN set -e; file build/hotwrap; \
    if readelf -lW build/hotwrap | grep -q INTERP; then echo "hotwrap is not static: it has a program interpreter" >&2; exit 1; fi; \
    if readelf -dW build/hotwrap | grep -q NEEDED; then echo "hotwrap is not static: it needs shared libraries" >&2; exit 1; fi; \
    build/hotwrap --version; \
    install -m 0755 build/hotwrap /hotwrap

FROM scratch
# 0755 and owned by root: any uid (Fn runs 1000:1000 on a read-only root) may execute it.
COPY --from=build /hotwrap /hotwrap
ENTRYPOINT ["/hotwrap"]

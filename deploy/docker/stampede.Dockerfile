# The load tool as a small image, for Kubernetes (deploy/k8s) and CI: build with
#   docker build -f deploy/docker/stampede.Dockerfile -t stampede .
# from the repository root. The runtime stage holds the binary, CA certificates (https targets) and
# a shell (the merge Job globs the segment directories); it runs as an unprivileged user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p stampede \
 && cp target/release/stampede /stampede

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /stampede /usr/local/bin/stampede
# Open files: every virtual user holds one socket; raise the container runtime's nofile limit
# (e.g. `--ulimit nofile=65536:65536`) for more than ~1,000 users per process.
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["stampede"]
CMD ["--help"]

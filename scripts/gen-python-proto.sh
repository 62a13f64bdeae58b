#!/usr/bin/env bash
# Regenerates the Python client's protobuf code from proto/scarcity/v1/governor.proto:
#   clients/python/src/scarcity_client/_proto/governor_pb2.py (+ .pyi for type checkers).
# Uses Debian's protoc (package protobuf-compiler, 3.21), the same release as Debian's Python protobuf runtime
# (python3-protobuf 3.21 / 4.21.x): the protoc of the Grpc.Tools NuGet is newer and its Python output demands a newer
# runtime. The service stub is not generated: the client calls the method by path (scarcity_client/_wire.py).
#   scripts/gen-python-proto.sh          regenerate in place
#   scripts/gen-python-proto.sh --check  exit 1 (and say which file) when the committed code is not current
set -euo pipefail
cd "$(dirname "$0")/.."

want="3.21."
if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc not found: install Debian's protobuf-compiler and libprotobuf-dev (the well-known .proto files): apt-get install -y protobuf-compiler libprotobuf-dev" >&2
  exit 2
fi
have=$(protoc --version | awk '{print $2}')
case "$have" in
  "$want"*) ;;
  *) echo "protoc $have found, $want* needed (Debian's protobuf-compiler matches the python3-protobuf runtime)" >&2; exit 2 ;;
esac

dest=clients/python/src/scarcity_client/_proto
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc -I proto -I /usr/include --python_out="$tmp" --pyi_out="$tmp" scarcity/v1/governor.proto

status=0
for f in governor_pb2.py governor_pb2.pyi; do
  if [ "${1:-}" = "--check" ]; then
    if ! cmp -s "$tmp/scarcity/v1/$f" "$dest/$f"; then
      echo "$dest/$f is not current with proto/scarcity/v1/governor.proto: run scripts/gen-python-proto.sh" >&2
      status=1
    fi
  else
    mkdir -p "$dest"
    cp "$tmp/scarcity/v1/$f" "$dest/$f"
    echo "wrote $dest/$f"
  fi
done
exit $status

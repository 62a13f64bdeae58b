"""Generated protobuf code of proto/scarcity/v1/governor.proto (scripts/gen-python-proto.sh); do not edit."""

#!/bin/sh
# Runs Debian's protoc (package protobuf-compiler) for native proto_library rules.
exec /usr/bin/protoc "$@"

#!/bin/sh
# make_cert.sh DIR: a self-signed certificate for localhost and 127.0.0.1, valid for 7 days,
# written to DIR/cert.pem with its unencrypted key in DIR/key.pem.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 7 \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null

#!/usr/bin/env bash
# A test certificate authority and certificates for TLS between governor nodes, subsystems and the CLI
# (Scarcity:Cluster:Tls, docs/operations.md#tls). For tests and trials only: the keys are not protected.
#
#   scripts/make-test-certs.sh DIR [NAME...]
#
# Writes into DIR (created when missing):
#   ca.pem, ca.key                  the test CA (CaCertificatePath of every node, client and CLI)
#   NAME.pfx, NAME.pem, NAME.key    a certificate per NAME signed by the CA, for both TLS roles (server and client);
#                                   NAME defaults to: node1 node2 node3 client cli
#   rogue-ca.pem, rogue.pfx         a certificate from another CA: what a node without the right certificate presents
# Every .pfx has the password $SCARCITY_TLS_PASSWORD (default: scarcity-test). Subject alternative names: the NAME,
# localhost, 127.0.0.1 and the addresses in $SCARCITY_TLS_SAN (comma-separated, e.g. "IP:10.0.0.5,DNS:gpu-node-1").
# Needs openssl. Existing files in DIR are replaced.
set -euo pipefail

die() { echo "make-test-certs.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: scripts/make-test-certs.sh DIR [NAME...]"
command -v openssl >/dev/null || die "openssl is not installed (apt-get install -y openssl)"
DIR=$1; shift
NAMES=("$@"); [ ${#NAMES[@]} -gt 0 ] || NAMES=(node1 node2 node3 client cli)
PASSWORD=${SCARCITY_TLS_PASSWORD:-scarcity-test}
DAYS=${SCARCITY_TLS_DAYS:-825}
mkdir -p "$DIR" || die "cannot create $DIR"
[ -w "$DIR" ] || die "$DIR is not writable"
cd "$DIR"

# make_ca NAME SUBJECT: a self-signed CA (EC P-256) in NAME.pem / NAME.key
make_ca() {
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$1.key" -out "$1.pem" \
    -days "$DAYS" -subj "$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || die "openssl failed to make CA $1"
}

# make_cert NAME CA: NAME.key, NAME.pem signed by CA, and NAME.pfx (certificate, key and CA chain)
make_cert() {
  local name=$1 ca=$2 san="DNS:$1,DNS:localhost,IP:127.0.0.1"
  [ -n "${SCARCITY_TLS_SAN:-}" ] && san="$san,$SCARCITY_TLS_SAN"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$name.key" -out "$name.csr" \
    -subj "/O=Scarcity test/CN=$name" 2>/dev/null || die "openssl failed to make a request for $name"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=$san" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -out "$name.pem" -days "$DAYS" \
    -extfile "$name.ext" 2>/dev/null || die "openssl failed to sign $name"
  openssl pkcs12 -export -out "$name.pfx" -inkey "$name.key" -in "$name.pem" -certfile "$ca.pem" -name "$name" \
    -passout "pass:$PASSWORD" || die "openssl failed to export $name.pfx"
  rm -f "$name.csr" "$name.ext"
  chmod 600 "$name.key" "$name.pfx"
}

make_ca ca "/O=Scarcity test/CN=Scarcity test CA"
chmod 600 ca.key
for name in "${NAMES[@]}"; do
  [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "'$name' is not a certificate name (letters, digits, . _ -)"
  make_cert "$name" ca
done
make_ca rogue-ca "/O=Somebody else/CN=Another CA"
make_cert rogue rogue-ca
rm -f ./*.srl
echo "made in $(pwd): ca.pem, ${NAMES[*]/%/.pfx}, rogue.pfx (password: \$SCARCITY_TLS_PASSWORD or scarcity-test)"

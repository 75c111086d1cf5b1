# shellcheck shell=bash
# Sourced by check-debs.sh and check-service.sh: puts a fresh TEST PKI where the packaged
# gateway configuration expects the real certificates, with the owners and modes an operator
# gives them (docs/gateway-operations.md, "First configuration").
#
#   place_test_pki VCARD WORK ROOT UID GID
#
# VCARD: the development tool that writes the TEST PKI; WORK: a scratch folder; ROOT: the file
# system to put it in ("" for this machine); UID/GID: the service user's numeric ids there.
place_test_pki() {
  local vcard=$1 work=$2 root=$3 uid=$4 gid=$5
  "$vcard" pki --out "$work/pki" >/dev/null 2>&1 || { echo "$vcard pki failed" >&2; return 1; }
  cat "$work/pki/gateway.pem" "$work/pki/person-ca.pem" >"$work/chain.pem"
  install -m 0640 -o 0 -g "$gid" "$work/chain.pem" "$root/etc/hjemmekontor/tls/gateway.pem"
  install -m 0600 -o "$uid" -g "$gid" "$work/pki/gateway.key" "$root/etc/hjemmekontor/tls/gateway.key"
  install -m 0644 "$work/pki/root-ca.pem" "$work/pki/person-ca.pem" "$root/etc/hjemmekontor/ca/"
  install -m 0644 -o "$uid" -g "$gid" "$work/pki/crl.pem" \
    "$root/var/lib/hjemmekontor-gateway/crl/person-ca.crl"
}

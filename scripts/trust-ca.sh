#!/usr/bin/env bash
# Trust the mitm-lab throwaway CA on this machine: the Linux NSS database (Chromium, and
# Firefox when pointed at a profile with --nssdb) and the Debian system store (curl, Python,
# wget, most command-line tools). macOS and Windows get printed instructions.
#
# DRY RUN BY DEFAULT: it prints the commands; --yes runs them. Undo: scripts/untrust-ca.sh.
# The NSS nickname is the CA's own name ("mitm-lab throwaway CA <date> <id>") and the system
# store file is named after it, so untrust-ca.sh finds them even after the CA is deleted.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_NAME='trust-ca.sh'
# shellcheck source=lib/ca-trust.sh
. "$SCRIPT_DIR/lib/ca-trust.sh"

usage() {
  cat <<EOF
Usage: scripts/trust-ca.sh [--ca FILE | --ca-dir DIR] [--nss-only | --system-only]
                           [--nssdb DIR] [--yes]

Install trust in the mitm-lab throwaway CA. Without --yes it only PRINTS the commands.

  --ca FILE       the CA certificate (PEM)
  --ca-dir DIR    the CA folder; the certificate is DIR/certs/ca.pem
                  (default: \$MITM_LAB_CA_DIR, else the project's certs/ folder)
  --nss-only      only the NSS database (Chromium; Firefox with --nssdb)
  --system-only   only the Debian/Ubuntu system store (needs sudo unless root)
  --nssdb DIR     the NSS database folder (default \$HOME/.pki/nssdb, created when
                  missing); a Firefox profile folder works too (Firefox closed)
  --yes           run the commands instead of printing them
  -h, --help      this help

What trusting means: every client that trusts this CA lets mitm-lab read its HTTPS. The
CA is name-constrained to lab names unless it was made with --unconstrained.
Undo: scripts/untrust-ca.sh (same options). See docs/ca.md.
EOF
}

CA_DIR="${MITM_LAB_CA_DIR:-$SCRIPT_DIR/../certs}"
on_ca_dir() { CA_DIR="$1"; }
parse_trust_options "$@"
[ -n "$CA_FILE" ] || CA_FILE="$CA_DIR/certs/ca.pem"
[ -r "$CA_FILE" ] || die "no readable CA certificate at $CA_FILE" 'create one with `mitm-lab ca init` (or give --ca FILE / --ca-dir DIR)'
command -v openssl >/dev/null || die 'openssl is needed to read the certificate' 'sudo apt-get install openssl'

SUBJECT="$(ca_subject "$CA_FILE" 2>/dev/null)" || die "$CA_FILE is not a PEM certificate"
NAME="$(printf '%s\n' "$SUBJECT" | cn_of_subject)"
case "$NAME" in
  "$NAME_PREFIX"*) ;;
  *) die "$CA_FILE is not a mitm-lab CA (subject: ${SUBJECT#subject=})" 'this script only installs mitm-lab throwaway CAs' ;;
esac
FILE_NAME="$(store_file_name "$NAME")"
FINGERPRINT="$(openssl x509 -in "$CA_FILE" -noout -fingerprint -sha256 | sed 's/^.*=//')"
if openssl x509 -in "$CA_FILE" -noout -ext nameConstraints 2>/dev/null | grep -q 'Permitted'; then
  SCOPE="name-constrained: it can sign only $(openssl x509 -in "$CA_FILE" -noout -ext nameConstraints |
    sed -n 's/^ *\(DNS\|IP\):/\1:/p' | tr '\n' ' ')"
else
  SCOPE='UNCONSTRAINED: it can impersonate ANY site. Remove it when you are done.'
fi
echo "CA:          $NAME"
echo "SHA-256:     $FINGERPRINT"
echo "Scope:       $SCOPE"
echo "Certificate: $CA_FILE"
print_run_mode

status=0
if [ "$DO_NSS" = 1 ]; then
  echo
  echo "# NSS database $NSSDB (Chromium on Linux; a Firefox profile with --nssdb)"
  if ! command -v certutil >/dev/null; then
    echo '  certutil not found: install it with  sudo apt-get install libnss3-tools'
    [ "$YES" = 1 ] && { echo 'trust-ca.sh: skipped the NSS database (no certutil)' >&2; status=1; }
  else
    if [ ! -f "$NSSDB/cert9.db" ]; then
      run mkdir -p "$NSSDB"
      run certutil -d "sql:$NSSDB" -N --empty-password
    fi
    run certutil -d "sql:$NSSDB" -A -t 'C,,' -n "$NAME" -i "$CA_FILE"
    [ "$YES" = 1 ] && echo '  done: restart Chromium to pick it up'
  fi
fi
if [ "$DO_SYSTEM" = 1 ]; then
  echo
  echo "# Debian/Ubuntu system store (curl, Python, wget, git …)"
  if command -v update-ca-certificates >/dev/null || [ -d "$SYSTEM_DIR" ]; then
    run ${SUDO:+sudo} mkdir -p "$SYSTEM_DIR"
    run ${SUDO:+sudo} cp "$CA_FILE" "$SYSTEM_DIR/$FILE_NAME"
    run ${SUDO:+sudo} update-ca-certificates
  else
    echo "  no update-ca-certificates here (not Debian/Ubuntu): see docs/ca.md for your system"
  fi
fi
cat <<EOF

# Elsewhere (printed only):
#   macOS:    sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain '$CA_FILE'
#   Windows:  mitm-lab ca export --der --out mitm-lab-ca.crt
#             certutil -user -addstore Root mitm-lab-ca.crt
#   Firefox:  Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import
#   Android:  Settings > Security > Encryption & credentials > Install a certificate > CA certificate
#   One process only: curl --cacert, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE / REQUESTS_CA_BUNDLE
#             (mitm-lab ca info prints them)
EOF
[ "$YES" = 1 ] || echo 'Nothing was changed (dry run). Undo later with scripts/untrust-ca.sh.'
exit "$status"

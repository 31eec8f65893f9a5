#!/usr/bin/env bash
# Remove trust in mitm-lab CAs: from the Linux NSS database and the Debian system store.
# macOS and Windows get printed instructions.
#
# DRY RUN BY DEFAULT: it prints the commands; --yes runs them.
# Without --ca/--ca-dir it removes EVERY mitm-lab CA it finds (NSS nicknames and store files
# starting with "mitm-lab throwaway CA"), so it works after `mitm-lab ca remove` too.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_NAME='untrust-ca.sh'
# shellcheck source=lib/ca-trust.sh
. "$SCRIPT_DIR/lib/ca-trust.sh"

usage() {
  cat <<EOF
Usage: scripts/untrust-ca.sh [--ca FILE | --ca-dir DIR] [--nss-only | --system-only]
                             [--nssdb DIR] [--yes]

Remove trust in mitm-lab CAs. Without --yes it only PRINTS the commands.

  --ca FILE       only the CA in this certificate file
  --ca-dir DIR    only the CA in DIR/certs/ca.pem
                  (without either: every mitm-lab CA found, even ones already deleted)
  --nss-only      only the NSS database
  --system-only   only the Debian/Ubuntu system store (needs sudo unless root)
  --nssdb DIR     the NSS database folder (default \$HOME/.pki/nssdb; a Firefox profile
                  folder works too, with Firefox closed)
  --yes           run the commands instead of printing them
  -h, --help      this help

Then delete the CA itself: mitm-lab ca remove. See docs/ca.md.
EOF
}

on_ca_dir() { CA_FILE="$1/certs/ca.pem"; }
parse_trust_options "$@"

ONLY=''   # one CA name, or empty for every mitm-lab CA
if [ -n "$CA_FILE" ]; then
  [ -r "$CA_FILE" ] || die "no readable CA certificate at $CA_FILE" 'leave out --ca/--ca-dir to remove every mitm-lab CA'
  ONLY="$(ca_subject "$CA_FILE" | cn_of_subject)"
  case "$ONLY" in
    "$NAME_PREFIX"*) ;;
    *) die "$CA_FILE is not a mitm-lab CA" 'this script only removes mitm-lab throwaway CAs' ;;
  esac
fi
if [ -n "$ONLY" ]; then echo "CA: $ONLY"; else echo "CA: every \"$NAME_PREFIX …\" found"; fi
print_run_mode

found=0
status=0
if [ "$DO_NSS" = 1 ]; then
  echo
  echo "# NSS database $NSSDB"
  if ! command -v certutil >/dev/null; then
    echo '  certutil not found (sudo apt-get install libnss3-tools); nothing checked here'
    [ "$YES" = 1 ] && status=1
  elif [ ! -f "$NSSDB/cert9.db" ]; then
    echo '  no NSS database there: nothing to remove'
  else
    # `certutil -L` prints "nickname<spaces>trust-flags"; keep the nicknames of our CAs.
    nicks="$(certutil -L -d "sql:$NSSDB" | sed -n 's/^\(.*[^ ]\)  *[A-Za-z]*,[A-Za-z]*,[A-Za-z]* *$/\1/p' |
      grep -F -- "${ONLY:-$NAME_PREFIX}" | sort -u || true)"
    if [ -z "$nicks" ]; then
      echo '  no mitm-lab CA in it: nothing to remove'
    else
      while IFS= read -r nick; do
        case "$nick" in "${ONLY:-$NAME_PREFIX}"*) ;; *) continue ;; esac
        found=1
        run certutil -d "sql:$NSSDB" -D -n "$nick"
      done <<<"$nicks"
    fi
  fi
fi
if [ "$DO_SYSTEM" = 1 ]; then
  echo
  echo "# Debian/Ubuntu system store $SYSTEM_DIR"
  if [ -n "$ONLY" ]; then
    files=("$SYSTEM_DIR/$(store_file_name "$ONLY")")
  else
    shopt -s nullglob
    files=("$SYSTEM_DIR/$FILE_PREFIX"*.crt)
    shopt -u nullglob
  fi
  present=()
  for f in "${files[@]}"; do [ -e "$f" ] && present+=("$f"); done
  if [ ${#present[@]} -eq 0 ]; then
    echo '  no mitm-lab CA in it: nothing to remove'
  else
    found=1
    run ${SUDO:+sudo} rm -f "${present[@]}"
    run ${SUDO:+sudo} update-ca-certificates --fresh
  fi
fi
cat <<EOF

# Elsewhere (printed only):
#   macOS:    sudo security delete-certificate -c '${ONLY:-$NAME_PREFIX}' /Library/Keychains/System.keychain
#   Windows:  certutil -user -delstore Root "${ONLY:-$NAME_PREFIX}"
#   Firefox:  Settings > Privacy & Security > Certificates > View Certificates > Authorities > Delete
#   One process only: unset NODE_EXTRA_CA_CERTS SSL_CERT_FILE REQUESTS_CA_BUNDLE
EOF
if [ "$YES" = 1 ]; then
  [ "$found" = 1 ] && echo 'Removed. Restart browsers to forget the CA.'
else
  [ "$found" = 1 ] || echo 'Nothing to remove here.'
  [ "$found" = 0 ] || echo 'Nothing was changed (dry run).'
fi
exit "$status"

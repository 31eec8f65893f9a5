# shellcheck shell=bash
# Shared by scripts/trust-ca.sh and scripts/untrust-ca.sh (sourced, never run): the names both
# look for, option parsing, reading a CA's name, and the dry-run `run`. The caller sets
# SCRIPT_NAME and defines `usage` (its --help) and `on_ca_dir DIR` (what --ca-dir means to it)
# before calling parse_trust_options "$@".

# Every mitm-lab CA's subject CN starts with this; its system-store file name with FILE_PREFIX.
NAME_PREFIX='mitm-lab throwaway CA'
FILE_PREFIX='mitm-lab-throwaway-ca-'
SYSTEM_DIR='/usr/local/share/ca-certificates'

# die MESSAGE [HINT [EXIT_CODE]]: the message and hint on stderr, exit 1 (or EXIT_CODE).
die() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$1" >&2
  [ $# -gt 1 ] && printf '  %s\n' "$2" >&2
  exit "${3:-1}"
}

# Sets CA_FILE (--ca), NSSDB, DO_NSS, DO_SYSTEM, YES; --ca-dir DIR calls on_ca_dir DIR.
parse_trust_options() {
  CA_FILE=''
  DO_NSS=1
  DO_SYSTEM=1
  YES=0
  NSSDB="${HOME:-}/.pki/nssdb"
  while [ $# -gt 0 ]; do
    case "$1" in
      --ca) [ $# -ge 2 ] || die '--ca wants a FILE' 'see --help' 2; CA_FILE="$2"; shift 2 ;;
      --ca-dir) [ $# -ge 2 ] || die '--ca-dir wants a DIR' 'see --help' 2; on_ca_dir "$2"; shift 2 ;;
      --nssdb) [ $# -ge 2 ] || die '--nssdb wants a DIR' 'see --help' 2; NSSDB="$2"; shift 2 ;;
      --nss-only) DO_SYSTEM=0; shift ;;
      --system-only) DO_NSS=0; shift ;;
      --yes) YES=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown option \"$1\"" "see scripts/$SCRIPT_NAME --help" 2 ;;
    esac
  done
  [ "$DO_NSS$DO_SYSTEM" != '00' ] || die '--nss-only and --system-only exclude each other' 'give one' 2
}

# ca_subject FILE: the certificate's subject line, "subject=… CN = NAME, …" (openssl oneline).
ca_subject() {
  openssl x509 -in "$1" -noout -subject -nameopt oneline,-esc_msb
}

# cn_of_subject: the CN out of ca_subject's line on stdin (empty when there is none).
cn_of_subject() {
  sed -n 's/^subject=.*CN = \([^,]*\).*$/\1/p'
}

# store_file_name NAME: the system-store file for a CA name ("mitm-lab-throwaway-ca-….crt"),
# derived from the name alone so that untrust finds it after the CA itself is deleted.
store_file_name() {
  printf '%s.crt' "$(printf '%s' "$1" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9][^a-z0-9]*/-/g')"
}

# Root needs no sudo; everyone else gets it in front of the system-store commands.
SUDO=''
[ "$(id -u)" = 0 ] || SUDO='sudo'

# run CMD ARGS…: print the command (shell-quoted) and, with --yes, run it.
run() {
  printf '  $'
  printf ' %q' "$@"
  printf '\n'
  if [ "$YES" = 1 ]; then "$@"; fi
}

# The line that says whether this is a dry run.
print_run_mode() {
  if [ "$YES" = 1 ]; then echo 'Running:'; else echo 'Dry run: these commands would run (add --yes to run them):'; fi
}

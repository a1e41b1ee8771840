# Shared by the CLI end-to-end scripts (sourced): fail, and check_error for the bad-input cases.
fail() { echo "FAIL: $*"; exit 1; }

# check_error EXIT SUBSTRING COMMAND...: the command exits with EXIT and its stderr holds SUBSTRING;
# an ftrain error (exit 1) is one short line (CLI11's own parse errors, 105-109, add a --help line).
check_error() {
  local want_rc=$1 want=$2 err rc
  shift 2
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq "$want_rc" ] || fail "exit $rc (want $want_rc) for: $* ($err)"
  echo "$err" | grep -q -- "$want" || fail "unexpected error for $*: $err"
  [ "$want_rc" -ne 1 ] || [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "more than one error line for $*: $err"
  [ "${#err}" -lt 1500 ] || fail "an error message of ${#err} characters for $*"
}

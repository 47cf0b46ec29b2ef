#!/usr/bin/env bash
# The Debian packages the test suite (and the real gateways' peers) need, installed when
# missing: `make test` and `.ci/run` both call this, so a fresh machine needs no other step.
#
#   prometheus     promtool checks the alert rules; the monitoring test runs a real Prometheus
#   chromium       the browser tests drive it headless (Playwright brings only its driver)
#   kannel         bearerbox and smsbox: the SMS gateway the Kannel connector talks to
#   kannel-extras  Kannel's fake SMSC (/usr/lib/kannel/test/fakesmsc)
#   postfix        a private Postfix instance turns a relayed 550 into a real DSN bounce
#
# Postfix is installed unconfigured ("No configuration"), so the machine's own mail system
# is not started; the tests run their own instance on loopback ports of their own.
set -euo pipefail

missing=()
need() {  # package, file that shows it is installed
    [ -e "$2" ] || missing+=("$1")
}
need prometheus /usr/bin/promtool
need chromium /usr/bin/chromium
need kannel /usr/sbin/bearerbox
need kannel-extras /usr/lib/kannel/test/fakesmsc
need postfix /usr/sbin/postfix

[ ${#missing[@]} -eq 0 ] && exit 0

command="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-packages: missing ${missing[*]}; as root on Debian 12 run:" >&2
    echo "  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections" >&2
    echo "  apt-get update && $command" >&2
    exit 1
fi
echo "system-packages: installing ${missing[*]} from Debian's packages"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
# The kannel package starts its own boxes on port 13000; the tests run their own.
if [ -x /etc/init.d/kannel ]; then /etc/init.d/kannel stop >/dev/null 2>&1 || true; fi

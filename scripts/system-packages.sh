#!/usr/bin/env bash
# The Debian packages `make run` and `make test` need, installed when missing, so a fresh
# machine needs no other step: the Makefile calls this (`run` before the virtualenv is made,
# `test` before the suite) and so does `.ci/run`.
#
#   scripts/system-packages.sh run    what `make install` / `make run` need
#   scripts/system-packages.sh test   that, and what the test suite needs (the default)
#
# run:
#   python3-venv       `python3 -m venv` (Debian splits venv and ensurepip from python3)
# test:
#   prometheus         promtool checks the alert rules; the monitoring test runs a real Prometheus
#   chromium           the browser tests drive it headless (Playwright brings only its driver)
#   kannel             bearerbox and smsbox: the SMS gateway the Kannel connector talks to
#   kannel-extras      Kannel's fake SMSC (/usr/lib/kannel/test/fakesmsc)
#   postfix            a private Postfix instance turns a relayed 550 into a real DSN bounce
#   postgresql-client  psql runs deploy/postgres/roles.sql in the deployment test
#   baresip            the SIP user agent the voice connector drives, and the callee in its tests
#   sip-tester         SIPp: the busy and ringing-without-answer callees of the voice tests
#   espeak-ng          text to speech for voice alerts in nl, fr and de
#   iptables           cuts links between RabbitMQ nodes in network namespaces (partition tests)
#
# Postfix is installed unconfigured ("No configuration"), so the machine's own mail system
# is not started; the tests run their own instance on loopback ports of their own.
set -euo pipefail

profile="${1:-test}"
python="${PYTHON:-python3}"
missing=()
need() {  # package, file that shows it is installed
    [ -e "$2" ] || missing+=("$1")
}
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
if [ "$profile" = test ]; then
    need prometheus /usr/bin/promtool
    need chromium /usr/bin/chromium
    need kannel /usr/sbin/bearerbox
    need kannel-extras /usr/lib/kannel/test/fakesmsc
    need postfix /usr/sbin/postfix
    need postgresql-client /usr/bin/psql
    need baresip /usr/bin/baresip
    need sip-tester /usr/bin/sipp
    need espeak-ng /usr/bin/espeak-ng
    need iptables /usr/sbin/iptables
    # The Web Push test service (npm, pinned), into .npm-peers/ when missing.
    bash "$(dirname "$0")/npm-packages.sh"
elif [ "$profile" != run ]; then
    echo "system-packages: unknown profile $profile (run or test)" >&2
    exit 2
fi

[ ${#missing[@]} -eq 0 ] && exit 0

command="apt-get install -y ${missing[*]}"
postfix_unconfigured="echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-packages: missing ${missing[*]}; as root on Debian 12 run:" >&2
    case " ${missing[*]} " in *" postfix "*) echo "  $postfix_unconfigured" >&2 ;; esac
    echo "  apt-get update && $command" >&2
    exit 1
fi
echo "system-packages: installing ${missing[*]} from Debian's packages"
eval "$postfix_unconfigured"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
# The kannel package starts its own boxes on port 13000; the tests run their own.
if [ -x /etc/init.d/kannel ]; then /etc/init.d/kannel stop >/dev/null 2>&1 || true; fi

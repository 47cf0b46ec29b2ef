#!/bin/sh
# The platform's RabbitMQ users, each allowed only what its service does: the permissions of
# deploy/kubernetes/base/rabbitmq.yaml and connectors.yaml, the same patterns (a test holds
# the two equal and runs both). Compose runs this in the RabbitMQ container once the node is
# up (post_start); elsewhere run it where rabbitmqctl reaches the node.
#
#   BIN_<NAME>_PASSWORD     for registry, intake, dispatch, digest, connectors, gateway;
#                           BIN_SUBSCRIBER_PASSWORD, if set, adds the public subscriber
#   BIN_RABBITMQ_VHOST      default /
#   BIN_RABBITMQ_USER_PREFIX  default "bin-" (users bin-registry, bin-intake, ...)
#
# Patterns match resource names: exchanges bin.events (public), bin.private (personal data),
# bin.gateway (work for gateways and their receipts), bin.dead-letter; a service's queues
# bin.<service>.* (with their .retry.N and .dead siblings); amq.default is the default
# exchange, through which a failed message's copy goes to its retry or dead-letter queue.
# Declaring a queue with a dead-letter exchange takes read on the queue and write on that
# exchange: so dispatch may read the gateway queues it declares, and the connectors the
# receipts queue.
set -eu

vhost="${BIN_RABBITMQ_VHOST:-/}"
prefix="${BIN_RABBITMQ_USER_PREFIX:-bin-}"
exchanges='^bin\.(events|private|gateway|dead-letter)$'

user() {  # name, password, configure, write, read
    rabbitmqctl -q add_user "$prefix$1" "$2" 2>/dev/null \
        || rabbitmqctl -q change_password "$prefix$1" "$2"
    rabbitmqctl -q set_permissions -p "$vhost" "$prefix$1" "$3" "$4" "$5"
}

# Compose starts this with the container: the node may not answer yet.
tries=0
until rabbitmqctl -q await_startup 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || { echo "users.sh: RabbitMQ did not start" >&2; exit 1; }
    sleep 2
done
rabbitmqctl -q add_vhost "$vhost" 2>/dev/null || true

user registry "$BIN_REGISTRY_PASSWORD" \
    "$exchanges|^bin\.registry\..*" \
    '^bin\.(events|private|dead-letter)$|^bin\.registry\..*|^amq\.default$' \
    '^bin\.(private|gateway|dead-letter)$|^bin\.registry\..*'
user intake "$BIN_INTAKE_PASSWORD" \
    "$exchanges|^bin\.intake\..*" \
    '^bin\.(events|dead-letter)$|^bin\.intake\..*|^amq\.default$' \
    '^bin\.(events|private|dead-letter)$|^bin\.intake\..*'
user dispatch "$BIN_DISPATCH_PASSWORD" \
    "$exchanges|^bin\.(dispatch|gateway)\..*" \
    '^bin\.(events|private|gateway|dead-letter)$|^bin\.(dispatch|gateway)\..*|^amq\.default$' \
    '^bin\.(events|private|gateway|dead-letter)$|^bin\.(dispatch|gateway)\..*'
user digest "$BIN_DIGEST_PASSWORD" \
    "$exchanges|^bin\.digest\..*" \
    '^bin\.(events|dead-letter)$|^bin\.digest\..*|^amq\.default$' \
    '^bin\.(events|dead-letter)$|^bin\.digest\..*'
user connectors "$BIN_CONNECTORS_PASSWORD" \
    "$exchanges|^bin\.gateway\..*|^bin\.dispatch\.receipts(\..*)?$" \
    '^bin\.(gateway|dead-letter)$|^bin\.gateway\..*|^bin\.dispatch\.receipts(\..*)?$|^amq\.default$' \
    '^bin\.(gateway|dead-letter)$|^bin\.gateway\.(sms|email)\.(urgent|bulk)(\..*)?$|^bin\.dispatch\.receipts(\..*)?$'
# An external gateway (and the gateway simulator): takes its work, answers receipts.
user gateway "$BIN_GATEWAY_PASSWORD" \
    '^$' \
    '^bin\.gateway$' \
    '^bin\.gateway\.[a-z]+\.(urgent|bulk)$'
# Other municipal systems: public events only, into queues of their own.
if [ -n "${BIN_SUBSCRIBER_PASSWORD:-}" ]; then
    user subscriber "$BIN_SUBSCRIBER_PASSWORD" \
        '^subscriber\..*' \
        '^subscriber\..*' \
        '^bin\.events$|^subscriber\..*'
fi

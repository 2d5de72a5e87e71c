#!/bin/sh
# One-shot: a SCRAM login per service (and the regulator), the topics, and ACLs
# so that each service writes only its own topics (and the dead-letter topics of
# what it reads) and the regulator may only read audit.ledger. Safe to re-run.
set -eu
: "${KAFKA_BOOTSTRAP:?}" "${KAFKA_ADMIN_PASSWORD:?}"
partitions="${KAFKA_PARTITIONS:-6}"
replication="${KAFKA_REPLICATION_FACTOR:-1}"
min_isr="${KAFKA_MIN_ISR:-1}"
bin=/opt/kafka/bin
admin=/tmp/init-admin.properties
umask 077
cat > "$admin" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
PROPERTIES
connect="--bootstrap-server $KAFKA_BOOTSTRAP --command-config $admin"

# -- logins -----------------------------------------------------------------------
add_user() { # name password
  $bin/kafka-configs.sh $connect --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}
add_user catalog "${KAFKA_CATALOG_PASSWORD:?}"
add_user pricing "${KAFKA_PRICING_PASSWORD:?}"
add_user orders "${KAFKA_ORDERS_PASSWORD:?}"
add_user access "${KAFKA_ACCESS_PASSWORD:?}"
add_user audit "${KAFKA_AUDIT_PASSWORD:?}"
add_user portal "${KAFKA_PORTAL_PASSWORD:?}"
add_user regulator "${KAFKA_REGULATOR_PASSWORD:?}"

# -- topics -----------------------------------------------------------------------
topic() { # name [--config k=v ...]
  name="$1"
  shift
  $bin/kafka-topics.sh $connect --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$replication" \
    --config "min.insync.replicas=$min_isr" "$@"
}
for name in catalog.listings catalog.organisations pricing.policies pricing.quotes orders.orders access.grants; do
  topic "$name"
  topic "$name.dlq"
done
# The ledger is the regulators' record: kept forever, never compacted away.
topic audit.ledger --config retention.ms=-1 --config retention.bytes=-1 --config cleanup.policy=delete
topic audit.ledger.dlq

# -- ACLs -------------------------------------------------------------------------
writes() { # service topics...
  service="$1"
  shift
  for name in "$@"; do
    $bin/kafka-acls.sh $connect --add --allow-principal "User:$service" \
      --operation Write --operation Describe --topic "$name" >/dev/null
  done
}
reads() { # service topics... (and may dead-letter each of them)
  service="$1"
  shift
  for name in "$@"; do
    $bin/kafka-acls.sh $connect --add --allow-principal "User:$service" \
      --operation Read --operation Describe --topic "$name" >/dev/null
    $bin/kafka-acls.sh $connect --add --allow-principal "User:$service" \
      --operation Write --operation Describe --topic "$name.dlq" >/dev/null
  done
  # Consumer groups are named after the service (e.g. "orders", "audit-kpis").
  $bin/kafka-acls.sh $connect --add --allow-principal "User:$service" \
    --operation Read --operation Describe --resource-pattern-type prefixed --group "$service" >/dev/null
}
writes catalog catalog.listings catalog.organisations
writes pricing pricing.policies pricing.quotes
writes orders orders.orders
writes access access.grants
writes audit audit.ledger
reads pricing catalog.listings catalog.organisations
reads orders catalog.listings pricing.policies pricing.quotes access.grants
reads access catalog.listings orders.orders
reads audit catalog.listings catalog.organisations pricing.quotes orders.orders access.grants
# The regulator reads the ledger and nothing else, in groups named regulator*.
$bin/kafka-acls.sh $connect --add --allow-principal User:regulator \
  --operation Read --operation Describe --topic audit.ledger >/dev/null
$bin/kafka-acls.sh $connect --add --allow-principal User:regulator \
  --operation Read --operation Describe --resource-pattern-type prefixed --group regulator >/dev/null

echo "kafka: logins, topics and ACLs in place"

#!/bin/sh
# One KRaft node (broker + controller) of the vndx cluster.
# Clients and brokers authenticate with SASL/SCRAM-SHA-512 on INTERNAL (9092);
# controllers talk SASL/PLAIN on CONTROLLER (9093), which no client is given.
# The StandardAuthorizer denies anything no ACL allows; `admin` is the only super user.
set -eu
: "${KAFKA_NODE_ID:?}" "${KAFKA_HOSTNAME:?}" "${KAFKA_CLUSTER_ID:?}" "${KAFKA_VOTERS:?}"
: "${KAFKA_ADMIN_PASSWORD:?}"
partitions="${KAFKA_PARTITIONS:-6}"
replication="${KAFKA_REPLICATION_FACTOR:-1}"
min_isr="${KAFKA_MIN_ISR:-1}"
config=/tmp/server.properties
umask 077

cat > "$config" <<PROPERTIES
process.roles=broker,controller
node.id=${KAFKA_NODE_ID}
controller.quorum.voters=${KAFKA_VOTERS}
listeners=INTERNAL://:9092,CONTROLLER://:9093
advertised.listeners=INTERNAL://${KAFKA_HOSTNAME}:9092
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}" user_admin="${KAFKA_ADMIN_PASSWORD}";
listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
log.dirs=/var/lib/kafka/data
num.partitions=${partitions}
default.replication.factor=${replication}
min.insync.replicas=${min_isr}
offsets.topic.replication.factor=${replication}
transaction.state.log.replication.factor=${replication}
transaction.state.log.min.isr=${min_isr}
auto.create.topics.enable=false
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
PROPERTIES

# What the healthcheck and the init container use to log in as admin.
cat > /tmp/admin.properties <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
PROPERTIES

# The admin's SCRAM credential must exist before the brokers can talk to each other.
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted \
  --cluster-id "$KAFKA_CLUSTER_ID" --config "$config" \
  --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]"
exec /opt/kafka/bin/kafka-server-start.sh "$config"

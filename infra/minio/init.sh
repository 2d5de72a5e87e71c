#!/bin/sh
# One-shot: the bucket, an access key per service with its own policy, no
# anonymous access, and a lifecycle rule that expires sandbox/ objects as a
# backstop (access deletes each extract when its grant ends). Safe to re-run.
#
#   catalog  writes and reads raw/ (providers' files); nothing else
#   access   reads raw/, writes and reads sandbox/ (extracts; buyers get presigned URLs)
#   audit    writes and reads ledger/ (ledger exports)
#   pricing, orders, portal: may check that the bucket exists, nothing more
# Nobody else can read raw/: buyers never hold a key and the bucket has no anonymous policy.
set -eu
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_BUCKET:?}"
: "${SANDBOX_EXPIRY_DAYS:=30}"
mc alias set vndx http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "vndx/$S3_BUCKET"
mc anonymous set none "vndx/$S3_BUCKET"
mc version enable "vndx/$S3_BUCKET"

policy_dir=$(mktemp -d)
bucket_arn="arn:aws:s3:::$S3_BUCKET"

write_policy() { # name statements-json
  cat > "$policy_dir/$1.json" <<JSON
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": ["$bucket_arn"]}$2
]}
JSON
}
rw() { # prefix
  printf ',\n  {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], "Resource": ["%s/%s*"]}' "$bucket_arn" "$1"
}
ro() { # prefix
  printf ',\n  {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["%s/%s*"]}' "$bucket_arn" "$1"
}
bucket_policy() { # access keeps the bucket policy that denies closed grants' objects (403)
  printf ',\n  {"Effect": "Allow", "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"], "Resource": ["%s"]}' "$bucket_arn"
}
write_policy vndx-catalog "$(rw raw/)"
write_policy vndx-access "$(ro raw/)$(rw sandbox/)$(bucket_policy)"
write_policy vndx-audit "$(rw ledger/)"
write_policy vndx-bucket-only ""

grant() { # access-key secret-key policy
  mc admin user add vndx "$1" "$2" >/dev/null
  mc admin policy create vndx "$3" "$policy_dir/$3.json" >/dev/null
  mc admin policy attach vndx "$3" --user "$1" >/dev/null 2>&1 || true # already attached
}
grant "${S3_CATALOG_ACCESS_KEY:?}" "${S3_CATALOG_SECRET_KEY:?}" vndx-catalog
grant "${S3_ACCESS_ACCESS_KEY:?}" "${S3_ACCESS_SECRET_KEY:?}" vndx-access
grant "${S3_AUDIT_ACCESS_KEY:?}" "${S3_AUDIT_SECRET_KEY:?}" vndx-audit
grant "${S3_PRICING_ACCESS_KEY:?}" "${S3_PRICING_SECRET_KEY:?}" vndx-bucket-only
grant "${S3_ORDERS_ACCESS_KEY:?}" "${S3_ORDERS_SECRET_KEY:?}" vndx-bucket-only
grant "${S3_PORTAL_ACCESS_KEY:?}" "${S3_PORTAL_SECRET_KEY:?}" vndx-bucket-only

if ! mc ilm rule ls "vndx/$S3_BUCKET" 2>/dev/null | grep -q sandbox/; then
  mc ilm rule add --prefix sandbox/ --expire-days "$SANDBOX_EXPIRY_DAYS" \
    --noncurrent-expire-days 1 "vndx/$S3_BUCKET"
fi
rm -rf "$policy_dir"
echo "minio: bucket, service keys, policies and the sandbox/ lifecycle rule in place"

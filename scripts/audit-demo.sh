#!/usr/bin/env bash
# `eks-node-role-guard audit` on the demo account: a moto server seeded as `make demo` seeds it,
# the built command reading it (read-only), the terminal table, then the same audit as HTML,
# Markdown, JSON and ASFF under .demo/. Run by `make audit-demo`. Leaves no process behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
DEMO="$ROOT/.demo"
mkdir -p "$DEMO"

# shellcheck source=scripts/emulator.sh
source "$ROOT/scripts/emulator.sh"
stop_on_exit
CLI="$BIN_DIR/eks-node-role-guard"

build_workspace

echo "==== a local AWS account (moto), seeded like make demo's ===="
start_moto "$DEMO/audit-moto.log"
"$PY" scripts/seed.py --endpoint "$ENDPOINT" seed --eksctl-role

# The command sees the emulator as it would see a real account: the endpoint and credentials
# from the environment, and no profile or instance metadata to fall back to.
export AWS_ENDPOINT_URL="$ENDPOINT" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
REGIONS=us-east-1,us-west-2

echo
echo "==== eks-node-role-guard audit --regions $REGIONS --exit-code ===="
set +e
"$CLI" audit --regions "$REGIONS" --exit-code
code=$?
set -e
echo "(exit code $code: 1 means enforce would change something)"

echo
echo "==== eks-node-role-guard explain eks-node-prod ===="
"$CLI" explain eks-node-prod --regions "$REGIONS" 2>/dev/null

for format in html markdown json asff; do
  ext=$format
  [[ $format == markdown ]] && ext=md
  [[ $format == asff ]] && ext=asff.json
  "$CLI" audit --regions "$REGIONS" --format "$format" --output "$DEMO/audit.$ext" 2>/dev/null
done
echo
echo "Reports written (open the HTML in a browser):"
ls -1 "$DEMO"/audit.html "$DEMO"/audit.md "$DEMO"/audit.json "$DEMO"/audit.asff.json

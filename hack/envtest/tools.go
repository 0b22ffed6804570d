//go:build tools

// Package tools pins the control-plane commands the Python test suite runs:
// kube-apiserver, kubectl and etcd, all from the versions kubernetes v1.33 uses.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

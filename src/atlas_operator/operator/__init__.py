"""The Kubernetes side: resource models, CRDs and (later) the controllers."""

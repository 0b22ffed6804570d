"""The test rig: real databases and a real Kubernetes API server, started by the tests."""

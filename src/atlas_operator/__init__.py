"""The Atlas Kubernetes Operator in Python: schema engine, controllers and command line."""

__version__ = "0.1.0"

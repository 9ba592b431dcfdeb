"""Kubernetes: render manifests from the spec (the audit reads them in faktctl.audit.sources)."""

"""Where audit facts come from: one module per input kind (Kubernetes so far)."""
